//! `doctor`: checks the configuration, the store, and read-only authentication against
//! both APIs; says what is wrong and how to fix it.

use serde::Serialize;

use crate::cli::DoctorArgs;
use crate::config::{Config, SecretSource};
use crate::context::Options;
use crate::context::{Ctx, Needs};
use crate::error::{Error, Exit, exit_for};
use crate::progress::Mode;
use crate::store::lock::StoreLock;
use crate::store::luca_findings as findings;
use crate::store::{self, Access, Found, SCHEMA_VERSION, Store};
use crate::{katana, luca};

#[derive(Debug, Serialize)]
pub struct Check {
    pub name: &'static str,
    pub ok: bool,
    pub message: String,
    pub fix: Option<String>,
    #[serde(skip)]
    pub exit: Exit,
}

impl Check {
    fn ok(name: &'static str, message: impl Into<String>) -> Check {
        Check {
            name,
            ok: true,
            message: message.into(),
            fix: None,
            exit: Exit::Ok,
        }
    }

    fn fail(
        name: &'static str,
        exit: Exit,
        message: impl Into<String>,
        fix: impl Into<String>,
    ) -> Check {
        Check {
            name,
            ok: false,
            message: message.into(),
            fix: Some(fix.into()),
            exit,
        }
    }
}

pub async fn run(opts: &Options, progress: Mode, args: &DoctorArgs) -> anyhow::Result<Exit> {
    let terminal = opts.host.is_terminal();
    if args.probe && !args.yes && !terminal {
        opts.host.eprintln(
            "doctor --probe writes a test card, cari and invoice to Luca and needs a \
             confirmation; without a terminal, pass --yes",
        );
        return Ok(Exit::Usage);
    }
    let mut checks = Vec::new();
    // Under --sandbox the context brings its own config (and starts the simulator).
    let sandbox_ctx = match opts.sandbox {
        true => Some(Ctx::open(opts, progress, Needs::READER).await?),
        false => None,
    };
    let config = match &sandbox_ctx {
        Some(ctx) => Ok(ctx.config.clone()),
        None => opts.load_config(true),
    };
    match config {
        Ok(config) => {
            checks.push(Check::ok(
                "config",
                match &config.file {
                    Some(f) => format!("{} is valid", f.display()),
                    None => "no config file; built-in defaults".to_string(),
                },
            ));
            checks.extend(secret_checks(&config));
            let store = store_check(&config);
            let store_ok = store.ok;
            checks.push(store);
            checks.push(lock_check(&config));
            // With no store yet, the remote checks run on a scratch store: doctor
            // creates nothing where the passes will keep theirs.
            let scratch = match store::check_path(&config.store.path, Access::Existing) {
                Err(_) if store_ok => Some(tempfile::tempdir()?),
                _ => None,
            };
            let ctx = match (sandbox_ctx, &scratch) {
                (Some(ctx), _) => Some(ctx),
                // The probe's findings belong in the store the passes use.
                (None, _) if store_ok && args.probe => {
                    let needs = Needs {
                        config_file: false,
                        lock: true,
                    };
                    Some(Ctx::with_config(opts, progress, needs, config)?)
                }
                (None, Some(dir)) => {
                    let mut config = config;
                    config.store.path = dir.path().join("doctor.db");
                    let scratch_needs = Needs {
                        config_file: false,
                        lock: true,
                    };
                    Some(Ctx::with_config(opts, progress, scratch_needs, config)?)
                }
                (None, None) if store_ok => {
                    Some(Ctx::with_config(opts, progress, Needs::READER, config)?)
                }
                (None, None) => None,
            };
            if let Some(ctx) = ctx {
                let katana = katana_check(&ctx).await;
                let katana_ok = katana.ok;
                checks.push(katana);
                let luca = luca_check(&ctx).await;
                let luca_ok = luca.ok;
                checks.push(luca);
                if katana_ok && luca_ok {
                    checks.extend(mapping_checks(&ctx).await);
                }
                if args.probe && luca_ok {
                    let go = args.yes
                        || super::confirm(
                            "Write one test card, cari and invoice to Luca (named KSPROBE-…) \
                             and delete what Luca lets go?",
                        )?;
                    checks.push(match go {
                        true => probe_check(&ctx).await,
                        false => Check::fail(
                            "probe",
                            Exit::Partial,
                            "not confirmed; nothing was written",
                            "run `doctor --probe` again and answer y, or pass --yes",
                        ),
                    });
                } else if args.probe {
                    checks.push(Check::fail(
                        "probe",
                        Exit::Partial,
                        "not run: the Luca login does not work (see above); nothing was written",
                        "fix the Luca login, then run `doctor --probe` again",
                    ));
                }
                checks.push(findings_check(&ctx));
            }
        }
        Err(e) => checks.push(Check::fail(
            "config",
            Exit::Config,
            e.to_string(),
            "correct the key named above; `sync.toml` in the repository documents every key",
        )),
    }
    let exit = checks.iter().fold(Exit::Ok, |acc, c| acc.worst(c.exit));
    if opts.json {
        opts.host.println(serde_json::to_string_pretty(
            &serde_json::json!({ "checks": checks }),
        )?)?;
    } else {
        for c in &checks {
            opts.host.println(format_args!(
                "{} {:<14} {}",
                if c.ok { "ok  " } else { "FAIL" },
                c.name,
                c.message
            ))?;
            if let Some(fix) = &c.fix {
                opts.host
                    .println(format_args!("     {:<14} fix: {fix}", ""))?;
            }
        }
    }
    Ok(exit)
}

/// Says where each secret comes from (never its value).
fn secret_checks(config: &Config) -> Vec<Check> {
    let source = |s: SecretSource| match s {
        SecretSource::Unset => "not set".to_string(),
        other => format!("from {other}"),
    };
    vec![
        Check::ok("katana key", source(config.katana.api_key_source)),
        Check::ok("luca password", source(config.luca.password_source)),
    ]
}

/// The store as a pass would meet it: its path, its file and directory writable, its
/// migration state one this binary can carry on from, its integrity. Read-only: it
/// creates, migrates and changes nothing.
fn store_check(config: &Config) -> Check {
    const NAME: &str = "store";
    let path = &config.store.path;
    let failed = |e: anyhow::Error| match e.downcast_ref::<Error>() {
        Some(Error::Store { problem, fix, .. }) => Check::fail(
            NAME,
            Exit::Store,
            format!("{}: {problem}", path.display()),
            fix.clone(),
        ),
        _ => Check::fail(
            NAME,
            exit_for(&e).worst(Exit::Unavailable),
            format!("{e:#}"),
            format!(
                "check that {} is a katana-sync store on a local disk and writable",
                path.display()
            ),
        ),
    };
    let found = match store::check_path(path, Access::Create) {
        Ok(found) => found,
        Err(e) => return failed(e.into()),
    };
    if let Err(e) = store::directory_writable(path) {
        return failed(e.into());
    }
    if found == Found::Absent {
        return Check::ok(
            NAME,
            format!(
                "no store at {} yet; the first pass creates it (mode 0600)",
                path.display()
            ),
        );
    }
    let store = match Store::inspect(path) {
        Ok(s) => s,
        Err(e) => return failed(e),
    };
    let version = match store.migration_state() {
        Ok(v) => v,
        Err(e) => return failed(e),
    };
    match store.integrity_check() {
        Err(e) => failed(e),
        Ok(integrity) if integrity == "ok" => Check::ok(
            NAME,
            format!(
                "{}: writable, schema version {version} (binary {SCHEMA_VERSION}{}), integrity ok",
                path.display(),
                if version < SCHEMA_VERSION {
                    "; the next pass migrates it"
                } else {
                    ""
                }
            ),
        ),
        Ok(integrity) => Check::fail(
            NAME,
            Exit::Store,
            format!("{}: integrity check failed: {integrity}", path.display()),
            "restore the store from a backup, or move it aside and let the next run \
             rebuild it from Katana (Luca ids are re-adopted by lookup)",
        ),
    }
}

/// A read-only request with the configured key (`GET /locations?limit=1`).
async fn katana_check(ctx: &Ctx) -> Check {
    const NAME: &str = "katana";
    let client = match ctx.katana().await {
        Ok(c) => c,
        Err(e) => {
            return Check::fail(
                NAME,
                exit_for(&e),
                format!("{e:#}"),
                "set katana.api_key or KATANA_API_KEY",
            );
        }
    };
    match client.probe().await {
        Ok(()) => Check::ok(
            NAME,
            format!("{} accepts the key", ctx.config.katana.base_url),
        ),
        Err(e) => {
            let fix = match &e {
                katana::Error::Auth { .. } => {
                    "create a new API key in Katana (Settings → API) and set it in KATANA_API_KEY"
                }
                katana::Error::Unavailable { .. } => {
                    "check katana.base_url and the network; the next run retries by itself"
                }
                katana::Error::Rejected { .. } => "check katana.base_url: it should end in /v1",
            };
            Check::fail(NAME, e.exit(), e.to_string(), fix)
        }
    }
}

/// Logs in and selects the branch (nothing else).
async fn luca_check(ctx: &Ctx) -> Check {
    const NAME: &str = "luca";
    let client = match ctx.luca().await {
        Ok(c) => c,
        Err(e) => {
            return Check::fail(
                NAME,
                exit_for(&e),
                format!("{e:#}"),
                "set luca.org_code, luca.username and LUCA_PASSWORD",
            );
        }
    };
    match client.probe().await {
        Ok(()) => Check::ok(
            NAME,
            format!(
                "{} login and branch selection work",
                ctx.config.luca.base_url
            ),
        ),
        Err(e) => {
            let fix = match &e {
                luca::Error::Auth { .. } => {
                    "check the org code, user and password; the user must be the organisation's Admin"
                }
                luca::Error::NoSuchBranch { .. } => {
                    "set luca.branch_id to one of the branches listed"
                }
                _ => "check luca.base_url and the network; the next run retries by itself",
            };
            Check::fail(NAME, e.exit(), e.to_string(), fix)
        }
    }
}

/// The `[mapping]` against both sides' lists: the invoice series exists for its
/// document type; every live Katana location, unit and tax rate maps to something Luca
/// has (or a pass will create). Read-only.
async fn mapping_checks(ctx: &Ctx) -> Vec<Check> {
    use crate::sync::lookups;
    let m = &ctx.config.mapping;
    let sides = async {
        let k = lookups::katana_side(ctx).await?;
        let l = lookups::luca_side(ctx, &[m.invoice_doc_type, m.despatch_doc_type]).await?;
        anyhow::Ok((k, l))
    };
    let (katana, luca) = match sides.await {
        Ok(s) => s,
        Err(e) => {
            return vec![Check::fail(
                "mapping",
                exit_for(&e),
                format!("the lists of locations, units and series could not be read: {e:#}"),
                "run doctor again; if it persists, check the network and both base URLs",
            )];
        }
    };
    let mut checks = Vec::new();
    // The series every document of a kind is sent under: a missing one refuses them all.
    let series_check = |label: &'static str, key: &str, name: &str, doc_type: i64, noun: &str| {
        let series = luca.series.get(&doc_type).cloned().unwrap_or_default();
        if series.iter().any(|s| s == name) {
            Check::ok(label, format!("{name} exists for document type {doc_type}"))
        } else {
            Check::fail(
                label,
                Exit::Partial,
                format!(
                    "Luca has no series {name:?} for document type {doc_type} (it lists: {}); \
                     every {noun} would be refused",
                    if series.is_empty() {
                        "none".to_string()
                    } else {
                        series.join(", ")
                    }
                ),
                format!("set `[mapping] {key}` to one of them, or define the series in Luca"),
            )
        }
    };
    checks.push(series_check(
        "invoice series",
        "invoice_series",
        &m.invoice_series,
        m.invoice_doc_type,
        "invoice",
    ));
    if ctx.config.sync.despatches {
        checks.push(series_check(
            "despatch series",
            "despatch_series",
            &m.despatch_series,
            m.despatch_doc_type,
            "despatch note",
        ));
    }
    let depots: Vec<&str> = luca.warehouses.iter().map(|w| w.code.as_str()).collect();
    let mut unmapped = Vec::new();
    let mut to_create = Vec::new();
    for (id, name) in &katana.locations {
        let code = m
            .warehouses
            .get(id)
            .map(String::as_str)
            .unwrap_or(m.default_warehouse.as_str());
        if code.is_empty() {
            unmapped.push(format!("{id} {name}"));
        } else if !depots.contains(&code) {
            to_create.push(format!("{id} {name} -> {code}"));
        }
    }
    checks.push(if unmapped.is_empty() {
        let mut c = Check::ok(
            "warehouses",
            format!(
                "all {} Katana location(s) map to a Luca depo{}",
                katana.locations.len(),
                if to_create.is_empty() {
                    String::new()
                } else {
                    format!(
                        "; not in Luca yet, created by `warehouses push`: {}",
                        to_create.join(", ")
                    )
                }
            ),
        );
        if !to_create.is_empty() {
            c.fix = Some("run `katana-sync warehouses push` (or `all`)".into());
        }
        c
    } else {
        Check::fail(
            "warehouses",
            Exit::Partial,
            format!(
                "unmapped Katana location(s): {}; their orders would be held back",
                unmapped.join(", ")
            ),
            "add them under `[mapping.warehouses]` (\"<location id>\" = \"<depoKodu>\"; \
             `katana-sync mapping init` proposes them), or set `[mapping] default_warehouse`",
        )
    });
    let units: Vec<i64> = luca.units.iter().map(|u| u.id).collect();
    let mut bad_units = Vec::new();
    for (unit, products) in &katana.units {
        match m.units.get(unit).copied().unwrap_or(m.default_unit_id) {
            0 => bad_units.push(format!("{unit} ({products} product(s)): unmapped")),
            id if !units.contains(&id) => bad_units.push(format!(
                "{unit} ({products} product(s)): olcumBirimiId {id} is not among Luca's units"
            )),
            _ => {}
        }
    }
    checks.push(if bad_units.is_empty() {
        Check::ok(
            "units",
            format!(
                "all {} Katana unit(s) map to a Luca unit",
                katana.units.len()
            ),
        )
    } else {
        Check::fail(
            "units",
            Exit::Partial,
            bad_units.join("; "),
            "map each under `[mapping.units]` to an olcumBirimiId Luca lists (`katana-sync \
             mapping init` proposes them), or set `[mapping] default_unit_id`",
        )
    });
    let no_rate: Vec<String> = katana
        .tax_rates
        .iter()
        .filter(|(id, _, rate)| rate.is_none() && !m.tax_rates.contains_key(id))
        .map(|(id, name, _)| format!("{id} {name}"))
        .collect();
    checks.push(if no_rate.is_empty() {
        Check::ok(
            "tax rates",
            format!(
                "all {} Katana tax rate(s) have a rate{}",
                katana.tax_rates.len(),
                if m.tax_rates.is_empty() {
                    String::new()
                } else {
                    format!(" ({} overridden in [mapping.tax_rates])", m.tax_rates.len())
                }
            ),
        )
    } else {
        Check::fail(
            "tax rates",
            Exit::Partial,
            format!(
                "Katana tax rate(s) with no rate: {}; their orders would be held back",
                no_rate.join(", ")
            ),
            "set each under `[mapping.tax_rates]` as a VAT fraction, e.g. \"7\" = \"0.20\"",
        )
    });
    checks
}

/// Writes the test objects and stores what they showed (`doctor --probe`).
async fn probe_check(ctx: &Ctx) -> Check {
    const NAME: &str = "probe";
    let luca = match ctx.luca().await {
        Ok(l) => l,
        Err(e) => return Check::fail(NAME, exit_for(&e), format!("{e:#}"), "see the luca check"),
    };
    let found = match luca::probe::run(luca, &ctx.config.mapping).await {
        Ok(f) => f,
        Err(e) => {
            return Check::fail(
                NAME,
                e.exit(),
                e.to_string(),
                "fix what the message names, then run `doctor --probe` again",
            );
        }
    };
    let stored = ctx.store.write(|tx| {
        let now = crate::store::now();
        let put = |k: &str, v: &str| findings::record(tx, k, v, "probe", &now);
        if let Some(several) = found.several_sessions {
            put(
                findings::SESSIONS_PER_USER,
                if several { "several" } else { "1" },
            )?;
        }
        for (endpoint, wrapper) in &found.wrappers {
            put(
                &format!("{}{endpoint}", findings::WRAPPER_PREFIX),
                &wrapper_text(wrapper),
            )?;
        }
        let yes_no = |b: bool| if b { "yes" } else { "no" };
        if let Some(b) = found.invoice_list_takip_no {
            put(findings::INVOICE_LIST_TAKIP_NO, yes_no(b))?;
        }
        if let Some(b) = found.invoice_list_aciklama {
            put(findings::INVOICE_LIST_ACIKLAMA, yes_no(b))?;
        }
        if let Some(ms) = found.read_after_write_ms {
            put(findings::READ_AFTER_WRITE_MS, &ms.to_string())?;
        }
        Ok(())
    });
    if let Err(e) = stored {
        return Check::fail(NAME, exit_for(&e), format!("{e:#}"), "check the store");
    }
    let mut message = found.log.join("; ");
    if found.left_behind.is_empty() {
        Check::ok(NAME, message)
    } else {
        message.push_str("; left in Luca: ");
        message.push_str(&found.left_behind.join(", "));
        let mut c = Check::ok(NAME, message);
        c.fix = Some("delete the test objects left in Luca by hand, if you wish".into());
        c
    }
}

/// How a list wrapper is stored: `bare`, or `key:NAME`.
pub fn wrapper_text(w: &luca::answer::Wrapper) -> String {
    match w {
        luca::answer::Wrapper::Bare => "bare".into(),
        luca::answer::Wrapper::Key(k) => format!("key:{k}"),
    }
}

/// What the store knows about the tenant (from `doctor --probe` or a pass).
fn findings_check(ctx: &Ctx) -> Check {
    const NAME: &str = "luca tenant";
    match findings::all(ctx.store.conn()) {
        Ok(all) if all.is_empty() => Check::ok(
            NAME,
            "nothing learnt yet (sessions per user, list shapes, invoice list fields); \
             `doctor --probe` establishes them",
        ),
        Ok(all) => Check::ok(
            NAME,
            all.iter()
                .map(|f| format!("{} = {} ({}, {})", f.key, f.value, f.source, f.found_at))
                .collect::<Vec<_>>()
                .join("; "),
        ),
        Err(e) => Check::fail(NAME, Exit::Internal, format!("{e:#}"), "check the store"),
    }
}

fn lock_check(config: &Config) -> Check {
    let path = &config.store.path;
    // No lock file is created for a store that does not exist (or is not usable).
    if !StoreLock::path_for(path).is_file() {
        return Check::ok("lock", "free");
    }
    match StoreLock::acquire(path) {
        Ok(_) => Check::ok("lock", "free"),
        Err(e) => Check::ok("lock", format!("held: {e}")),
    }
}
