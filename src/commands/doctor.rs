//! `doctor`: checks the configuration, the store, and read-only authentication against
//! both APIs; says what is wrong and how to fix it.

use serde::Serialize;

use crate::cli::GlobalOpts;
use crate::config::{self, Config, Overrides, SecretSource};
use crate::context::{Ctx, Needs};
use crate::error::{Error, Exit, exit_for};
use crate::progress::Mode;
use crate::store::lock::StoreLock;
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

pub async fn run(opts: &GlobalOpts, progress: Mode) -> anyhow::Result<Exit> {
    let mut checks = Vec::new();
    let overrides = Overrides {
        config: opts.config.clone(),
        db: opts.db.clone(),
    };
    // Under --sandbox the context brings its own config (and starts the simulator).
    let sandbox_ctx = match opts.sandbox {
        true => Some(Ctx::open(opts, progress, Needs::READER).await?),
        false => None,
    };
    let config = match &sandbox_ctx {
        Some(ctx) => Ok(ctx.config.clone()),
        None => config::load(&overrides, &config::process_env, true),
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
                checks.push(katana_check(&ctx).await);
                checks.push(luca_check(&ctx).await);
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
        println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({ "checks": checks }))?
        );
    } else {
        for c in &checks {
            println!(
                "{} {:<14} {}",
                if c.ok { "ok  " } else { "FAIL" },
                c.name,
                c.message
            );
            if let Some(fix) = &c.fix {
                println!("     {:<14} fix: {fix}", "");
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
