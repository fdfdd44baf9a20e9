//! The one list of passes. Each line names a pass once: its history name (`sync_type`),
//! its command line path, its `[sync.intervals]` key, the passes it runs after, the
//! remotes it talks to, and the file (`passes/<file>.rs`) that owns its arguments and
//! how it runs. The command line, `history --type`, the interval keys and `SyncType`
//! are all generated from it, so a pass cannot be half known. A pass file holds
//! `Args` (clap) and `run(ctx, tally, args)`; it is dispatched through `run_pass` like
//! every pass, so it records its run in history.
//!
//! A `sync_type` without a command path (`delete_sku`) is recorded in history but has a
//! command of its own (it prompts, and prints what it deleted).

use crate::context::Ctx;
use crate::error::{Exit, Remote};
use crate::progress::Mode;
use crate::report::Tally;

mod customers_pull;
mod orders_pull;
mod products_pull;
mod products_push;
mod suppliers_pull;
mod warehouses_pull;

/// The groups of the command line that passes live under (`orders pull`), with their help.
const GROUPS: &[(&str, &str)] = &[
    ("orders", "Katana sales orders"),
    ("products", "Katana products and variants; Luca stock cards"),
    (
        "customers",
        "Katana customers and Luca customer accounts (cari)",
    ),
    ("suppliers", "Katana suppliers and Luca supplier accounts"),
    ("warehouses", "Katana locations and Luca warehouses (depo)"),
];

/// The schedules of `[sync.intervals]` (SPEC section 2), with their defaults. Every pass
/// names one; the keys of passes still to come (stock, invoices, despatches) are part
/// of the documented file already.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Interval {
    Warehouses,
    Customers,
    Suppliers,
    Products,
    Orders,
    Stock,
    Invoices,
    Despatches,
}

impl Interval {
    /// In the order `all` runs them.
    pub const ALL: [(Interval, &'static str, &'static str); 8] = [
        (Interval::Warehouses, "warehouses", "6h"),
        (Interval::Customers, "customers", "6h"),
        (Interval::Suppliers, "suppliers", "6h"),
        (Interval::Products, "products", "6h"),
        (Interval::Orders, "orders", "5m"),
        (Interval::Stock, "stock", "6h"),
        (Interval::Invoices, "invoices", "5m"),
        (Interval::Despatches, "despatches", "5m"),
    ];

    pub fn key(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(i, ..)| *i == self)
            .map_or("", |e| e.1)
    }
}

/// What the registry knows of a pass besides how to run it.
#[derive(Debug, Clone, Copy)]
pub struct PassInfo {
    pub sync_type: SyncType,
    /// Words on the command line (`["products", "pull"]`); empty: a command of its own.
    pub cli: &'static [&'static str],
    pub about: &'static str,
    pub interval: Option<Interval>,
    /// Passes that must have run first (for `all`'s order).
    pub after: &'static [SyncType],
    pub remotes: &'static [Remote],
}

macro_rules! passes {
    ($(
        $variant:ident = $name:literal, [$($word:literal),*], $about:literal,
        interval: $interval:expr, after: [$($after:ident),*], remotes: [$($remote:ident),*],
        file: $($file:ident)?;
    )*) => {
        /// The kinds of pass, as named in history and `--json`.
        #[derive(
            Debug, Clone, Copy, PartialEq, Eq, Hash,
            serde::Serialize, serde::Deserialize, clap::ValueEnum,
        )]
        #[serde(rename_all = "snake_case")]
        #[value(rename_all = "snake_case")]
        pub enum SyncType { $($variant),* }

        impl SyncType {
            pub const ALL: &'static [SyncType] = &[$(SyncType::$variant),*];

            pub fn info(self) -> &'static PassInfo {
                const INFOS: &[PassInfo] = &[$(PassInfo {
                    sync_type: SyncType::$variant,
                    cli: &[$($word),*],
                    about: $about,
                    interval: $interval,
                    after: &[$(SyncType::$after),*],
                    remotes: &[$(Remote::$remote),*],
                }),*];
                &INFOS[self as usize]
            }

            pub fn as_str(self) -> &'static str {
                match self { $(SyncType::$variant => $name),* }
            }

            pub fn parse(s: &str) -> Option<SyncType> {
                Self::ALL.iter().copied().find(|t| t.as_str() == s)
            }
        }

        /// A pass as the command line asked for it, with its own arguments.
        #[derive(Debug)]
        pub enum PassCmd { $($($variant($file::Args),)?)* }

        impl PassCmd {
            pub fn sync_type(&self) -> SyncType {
                match self { $($(PassCmd::$variant($file::Args { .. }) => SyncType::$variant,)?)* }
            }

            /// The pass as its command runs with no arguments (for `all`); `None` when
            /// it has no command, or arguments that cannot all default.
            pub fn with_defaults(sync_type: SyncType) -> Option<PassCmd> {
                let cmd = clap::Command::new(sync_type.as_str()).no_binary_name(true);
                let m = Self::augment(cmd, sync_type)
                    .try_get_matches_from(std::iter::empty::<&str>())
                    .ok()?;
                Self::from_matches(sync_type, &m).ok()
            }

            pub(super) async fn body(self, ctx: &Ctx, tally: &mut Tally) -> anyhow::Result<()> {
                match self { $($(PassCmd::$variant(args) => $file::run(ctx, tally, args).await,)?)* }
            }

            fn augment(cmd: clap::Command, sync_type: SyncType) -> clap::Command {
                use clap::Args as _;
                match sync_type {
                    $($(SyncType::$variant => $file::Args::augment_args(cmd),)?)*
                    _ => cmd,
                }
            }

            fn from_matches(
                sync_type: SyncType,
                m: &clap::ArgMatches,
            ) -> Result<PassCmd, clap::Error> {
                use clap::FromArgMatches as _;
                match sync_type {
                    $($(SyncType::$variant => Ok(PassCmd::$variant($file::Args::from_arg_matches(m)?)),)?)*
                    other => Err(clap::Error::raw(
                        clap::error::ErrorKind::InvalidSubcommand,
                        format!("{} has no command of the registry", other.as_str()),
                    )),
                }
            }
        }
    };
}

passes! {
    OrdersPull = "orders_pull", ["orders", "pull"],
        "Pull sales orders (with rows) into the store, incrementally; queue stock adjustments",
        interval: Some(Interval::Orders), after: [WarehousesPull, ProductsPull],
        remotes: [Katana], file: orders_pull;
    ProductsPull = "products_pull", ["products", "pull"],
        "Pull Katana products and variants, and/or Luca stock cards (the SKU -> skartId map)",
        interval: Some(Interval::Products), after: [], remotes: [Katana, Luca],
        file: products_pull;
    ProductsPush = "products_push", ["products", "push"],
        "Create the Luca stock card of every variant that has none (append-only)",
        interval: Some(Interval::Products), after: [ProductsPull], remotes: [Luca],
        file: products_push;
    CustomersPull = "customers_pull", ["customers", "pull"], "Pull from Katana into the store",
        interval: Some(Interval::Customers), after: [], remotes: [Katana],
        file: customers_pull;
    SuppliersPull = "suppliers_pull", ["suppliers", "pull"], "Pull from Katana into the store",
        interval: Some(Interval::Suppliers), after: [], remotes: [Katana],
        file: suppliers_pull;
    WarehousesPull = "warehouses_pull", ["warehouses", "pull"],
        "Pull Katana locations into the store",
        interval: Some(Interval::Warehouses), after: [], remotes: [Katana],
        file: warehouses_pull;
    DeleteSku = "delete_sku", [], "Delete the Luca stock card of a SKU",
        interval: None, after: [], remotes: [Luca], file: ;
}

/// The passes with a command line path, in the registry's order.
fn commanded() -> impl Iterator<Item = &'static PassInfo> {
    SyncType::ALL
        .iter()
        .map(|t| t.info())
        .filter(|i| !i.cli.is_empty())
}

impl clap::Subcommand for PassCmd {
    fn augment_subcommands(mut cmd: clap::Command) -> clap::Command {
        for (group, about) in GROUPS {
            let mut sub = clap::Command::new(*group)
                .about(*about)
                .subcommand_required(true)
                .arg_required_else_help(true);
            for info in commanded().filter(|i| i.cli.len() == 2 && i.cli[0] == *group) {
                let verb = clap::Command::new(info.cli[1]).about(info.about);
                sub = sub.subcommand(Self::augment(verb, info.sync_type));
            }
            cmd = cmd.subcommand(sub);
        }
        for info in commanded().filter(|i| i.cli.len() == 1) {
            let c = clap::Command::new(info.cli[0]).about(info.about);
            cmd = cmd.subcommand(Self::augment(c, info.sync_type));
        }
        cmd
    }

    fn augment_subcommands_for_update(cmd: clap::Command) -> clap::Command {
        Self::augment_subcommands(cmd)
    }

    fn has_subcommand(name: &str) -> bool {
        commanded().any(|i| i.cli[0] == name)
    }
}

impl clap::FromArgMatches for PassCmd {
    fn from_arg_matches(m: &clap::ArgMatches) -> Result<Self, clap::Error> {
        let Some((first, m1)) = m.subcommand() else {
            return Err(clap::Error::new(clap::error::ErrorKind::MissingSubcommand));
        };
        for info in commanded() {
            match info.cli {
                [one] if *one == first => return Self::from_matches(info.sync_type, m1),
                [group, verb] if *group == first => {
                    if let Some((second, m2)) = m1.subcommand()
                        && second == *verb
                    {
                        return Self::from_matches(info.sync_type, m2);
                    }
                }
                _ => {}
            }
        }
        Err(clap::Error::new(clap::error::ErrorKind::InvalidSubcommand))
    }

    fn update_from_arg_matches(&mut self, m: &clap::ArgMatches) -> Result<(), clap::Error> {
        *self = Self::from_arg_matches(m)?;
        Ok(())
    }
}

/// Opens the context a pass needs (config, locked store), runs the pass, prints it.
pub async fn run(
    opts: &crate::context::Options,
    progress: Mode,
    cmd: PassCmd,
) -> anyhow::Result<Exit> {
    let ctx = Ctx::open(opts, progress, crate::context::Needs::writer(opts)).await?;
    let sync_type = cmd.sync_type();
    let (run, err) = super::run_pass(&ctx, sync_type, async |t| cmd.body(&ctx, t).await).await;
    crate::metrics::after_pass(&ctx);
    super::print_run(&ctx, &run)?;
    match err {
        Some(e) => Err(e),
        None => Ok(super::exit_of(&run)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sync_types_round_trip() {
        for &t in SyncType::ALL {
            assert_eq!(SyncType::parse(t.as_str()), Some(t));
            assert_eq!(t.info().sync_type, t);
            assert_eq!(
                serde_json::to_value(t).unwrap(),
                serde_json::Value::String(t.as_str().into())
            );
            let v = clap::ValueEnum::to_possible_value(&t).unwrap();
            assert_eq!(v.get_name(), t.as_str());
        }
        assert_eq!(SyncType::parse("nope"), None);
    }
}
