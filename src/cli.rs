//! The command line: global options and the subcommand tree (SPEC section 1).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(
    name = "katana-sync",
    version,
    about = "Keeps Katana MRP and Luca Koza accounting in step through a local SQLite store",
    propagate_version = true
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalOpts,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Args)]
pub struct GlobalOpts {
    /// Config file [default: ./sync.toml]
    #[arg(long, global = true, env = "KATANA_SYNC_CONFIG", value_name = "PATH")]
    pub config: Option<PathBuf>,

    /// SQLite store; overrides `[store] path`
    #[arg(long, global = true, env = "KATANA_SYNC_DB", value_name = "PATH")]
    pub db: Option<PathBuf>,

    /// Compute and print what would be written; write nothing to Katana, Luca or the store's data
    #[arg(long, global = true)]
    pub dry_run: bool,

    /// Print one JSON document on stdout instead of text
    #[arg(long, global = true)]
    pub json: bool,

    /// Quieter logs; on success print nothing (for cron). Twice: errors only
    #[arg(short, long, global = true, action = clap::ArgAction::Count, conflicts_with = "verbose")]
    pub quiet: u8,

    /// More verbose logs (-v debug, -vv trace); KATANA_SYNC_LOG takes a full tracing filter
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,

    /// No progress bars (they are also off when stderr is not a terminal)
    #[arg(long, global = true)]
    pub no_progress: bool,

    /// Run against the built-in simulator of both APIs, with demo data and a store of its own
    #[arg(long, global = true)]
    pub sandbox: bool,

    /// Write Prometheus textfile metrics here after each pass (over `[metrics] textfile`)
    #[arg(long, global = true, value_name = "PATH")]
    pub metrics_file: Option<PathBuf>,

    /// Log lines for people (journald-friendly when JOURNAL_STREAM is set) or one JSON
    /// object per line
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// The sync passes, from their registry (`commands::passes`).
    #[command(flatten)]
    Pass(crate::commands::passes::PassCmd),
    /// The approval queue of stock adjustments
    #[command(subcommand)]
    Adjustments(AdjustmentsCmd),
    /// The last runs, newest first
    History(HistoryArgs),
    /// Delete the Luca stock card of a SKU
    DeleteSku(DeleteSkuArgs),
    /// Every pass in dependency order, one history row each; exit code the worst of them
    All(AllArgs),
    /// Check config, store, both logins, the series and the mapping; say what is wrong and how to fix it
    Doctor(DoctorArgs),
    /// The `[mapping]` block: propose one from both sides
    #[command(subcommand)]
    Mapping(MappingCmd),
    /// The built-in simulator of the Katana and Luca APIs
    #[command(subcommand)]
    Sandbox(SandboxCmd),
    /// Print shell completions
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
}

#[derive(Debug, Subcommand)]
pub enum AdjustmentsCmd {
    /// The approval queue, newest first
    List {
        #[arg(long, value_enum, default_value_t = StatusFilter::Pending)]
        status: StatusFilter,
    },
    /// Approve pending adjustments
    Approve(Selection),
    /// Reject pending adjustments
    Reject(Selection),
    /// Settle an adjustment whose push outcome is unknown (a document no lookup could find)
    Resolve(ResolveArgs),
}

#[derive(Debug, Clone, Args)]
pub struct ResolveArgs {
    /// The adjustment id (any adjustment of the document will do)
    #[arg(value_name = "ID")]
    pub id: i64,
    /// The document exists in Luca: record it as done
    #[arg(long, conflicts_with = "retry", required_unless_present = "retry")]
    pub applied: bool,
    /// The document's Luca id (with --applied), e.g. the ssFaturaBaslikId
    #[arg(long = "luca-id", value_name = "N", requires = "applied")]
    pub luca_id: Option<i64>,
    /// The document is not in Luca: allow one new create, without a lookup
    #[arg(long)]
    pub retry: bool,
}

#[derive(Debug, Clone, Args)]
#[group(required = true, multiple = false)]
pub struct Selection {
    /// Every pending adjustment
    #[arg(long)]
    pub all: bool,
    /// The pending adjustments of these Katana order numbers
    #[arg(long = "order", value_name = "ORDER_NO", num_args = 1..)]
    pub orders: Vec<String>,
    /// Adjustment ids
    #[arg(value_name = "ID")]
    pub ids: Vec<i64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum StatusFilter {
    Pending,
    Approved,
    Rejected,
    Applied,
    Superseded,
    Unknown,
    All,
}

#[derive(Debug, Args)]
pub struct HistoryArgs {
    /// How many runs (at least 1)
    #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u32).range(1..))]
    pub limit: u32,
    /// Only runs of this sync_type (e.g. orders_pull)
    #[arg(long = "type", value_name = "T", value_enum)]
    pub sync_type: Option<crate::report::SyncType>,
}

#[derive(Debug, Args)]
pub struct DoctorArgs {
    /// Write one named test card, cari and invoice to Luca to learn what the reference
    /// leaves open (sessions per user, list shapes, invoice list fields), and store it
    #[arg(long)]
    pub probe: bool,
    /// With --probe: do not ask for confirmation
    #[arg(long)]
    pub yes: bool,
}

#[derive(Debug, Args)]
pub struct DeleteSkuArgs {
    pub sku: String,
    /// Do not ask for confirmation
    #[arg(long)]
    pub yes: bool,
}

#[derive(Debug, Args)]
pub struct AllArgs {
    /// Only the passes whose last success is older than their `[sync.intervals]` entry
    #[arg(long)]
    pub due: bool,
}

#[derive(Debug, Subcommand)]
pub enum MappingCmd {
    /// Print a proposed `[mapping]` block (TOML) from Katana's and Luca's lists, every
    /// entry commented with both names; unmatched ones commented out with candidates
    Init,
}

#[derive(Debug, Subcommand)]
pub enum SandboxCmd {
    /// Serve the simulator alone (Katana under /v1, Luca under /Yetki) and print its base URLs
    Serve(SandboxServeArgs),
}

#[derive(Debug, Clone, Args)]
pub struct SandboxServeArgs {
    /// Address to listen on
    #[arg(long, default_value = "127.0.0.1:8765")]
    pub addr: String,
    /// Seed of the generated demo data
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Number of sales orders to generate
    #[arg(long, default_value_t = 200)]
    pub orders: usize,
    /// Number of products to generate (each with one to four variants)
    #[arg(long, default_value_t = 60)]
    pub products: usize,
    /// Number of customers to generate
    #[arg(long, default_value_t = 300)]
    pub customers: usize,
    /// Latency added to every response, in milliseconds
    #[arg(long, default_value_t = 0)]
    pub latency_ms: u64,
    /// Fault knobs, comma-separated key=value; a key may be scoped `katana.` or `luca.`
    /// (unscoped: every side it applies to). Keys: http5xx=P, reset=P, latency=MS (both);
    /// burst429=N (Katana); lost=P, expire_every=N, serial=1, lookup_fail=html|error|timeout,
    /// luca_down=1, bad_login=1 (Luca). P is a probability from 0 to 1. Example:
    /// `lost=0.1,http5xx=0.05,expire_every=200,serial=1`. See docs/sandbox.md
    #[arg(long, default_value = "", value_parser = crate::sandbox::parse_fault_spec)]
    pub faults: String,
    /// Leave out the deliberately bad demo records (null SKU, unknown variant, ...)
    #[arg(long)]
    pub no_bad_records: bool,
    /// Katana requests allowed per key per 60 s
    #[arg(long, default_value_t = 60)]
    pub rate_limit: u32,
    /// Katana API key the simulator accepts
    #[arg(long, default_value = crate::sandbox::KATANA_KEY)]
    pub katana_key: String,
    /// Luca orgCode the simulator accepts
    #[arg(long, default_value = crate::sandbox::LUCA_ORG_CODE)]
    pub luca_org_code: String,
    /// Luca userName the simulator accepts
    #[arg(long, default_value = crate::sandbox::LUCA_USER)]
    pub luca_user: String,
    /// Luca userPassword the simulator accepts
    #[arg(long, default_value = crate::sandbox::LUCA_PASSWORD)]
    pub luca_password: String,
    /// Keep the simulator's state in this file (loaded at start, saved on change)
    #[arg(long, value_name = "PATH")]
    pub state_file: Option<PathBuf>,
}

impl SandboxServeArgs {
    /// The simulator these flags describe (`--faults` checked again, for arguments built
    /// by hand).
    pub fn options(&self) -> anyhow::Result<crate::sandbox::SandboxOptions> {
        Ok(crate::sandbox::SandboxOptions {
            seed: self.seed,
            orders: self.orders,
            products: self.products,
            customers: self.customers,
            latency_ms: self.latency_ms,
            faults: self.faults.parse()?,
            bad_records: !self.no_bad_records,
            rate_limit: self.rate_limit,
            katana_key: self.katana_key.clone(),
            luca_org_code: self.luca_org_code.clone(),
            luca_user: self.luca_user.clone(),
            luca_password: self.luca_password.clone(),
            luca_branch_id: crate::sandbox::LUCA_BRANCH_ID,
            state_file: self.state_file.clone(),
        })
    }
}

impl From<&GlobalOpts> for crate::context::Options {
    fn from(g: &GlobalOpts) -> Self {
        Self {
            config: g.config.clone(),
            db: g.db.clone(),
            dry_run: g.dry_run,
            json: g.json,
            quiet: g.quiet,
            sandbox: g.sandbox,
            metrics_file: g.metrics_file.clone(),
            host: crate::host::Host::default(),
        }
    }
}
