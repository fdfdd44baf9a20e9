//! `doctor`: checks the configuration, the store, and read-only authentication against
//! both APIs; says what is wrong and how to fix it.

use serde::Serialize;

use crate::cli::GlobalOpts;
use crate::config::{self, Config, Overrides};
use crate::error::{Exit, exit_for};
use crate::progress::Mode;
use crate::store::lock::StoreLock;
use crate::store::{SCHEMA_VERSION, Store};

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

pub async fn run(opts: &GlobalOpts, _progress: Mode) -> anyhow::Result<Exit> {
    let mut checks = Vec::new();
    let overrides = Overrides {
        config: opts.config.clone(),
        db: opts.db.clone(),
    };
    let config = match config::load(&overrides, &config::process_env, !opts.sandbox) {
        Ok(c) => {
            checks.push(Check::ok(
                "config",
                match &c.file {
                    Some(f) => format!("{} is valid", f.display()),
                    None => "no config file; built-in defaults".to_string(),
                },
            ));
            Some(c)
        }
        Err(e) => {
            checks.push(Check::fail(
                "config",
                Exit::Config,
                e.to_string(),
                "correct the key named above; `sync.toml` in the repository documents every key",
            ));
            None
        }
    };
    if let Some(config) = &config {
        checks.extend(secret_checks(config));
        checks.push(store_check(config));
        checks.push(lock_check(config));
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
    vec![
        Check::ok(
            "katana key",
            format!("from {}", config.katana.api_key_source),
        ),
        Check::ok(
            "luca password",
            format!("from {}", config.luca.password_source),
        ),
    ]
}

fn store_check(config: &Config) -> Check {
    let path = &config.store.path;
    match Store::open(path) {
        Err(e) => Check::fail(
            "store",
            exit_for(&e).worst(Exit::Unavailable),
            format!("{e:#}"),
            format!(
                "check that {} is a katana-sync store on a local disk and writable",
                path.display()
            ),
        ),
        Ok(store) => match (store.integrity_check(), store.schema_version()) {
            (Err(e), _) | (_, Err(e)) => Check::fail(
                "store",
                Exit::Internal,
                format!("{}: {e:#}", path.display()),
                "restore the store from a backup",
            ),
            (Ok(integrity), Ok(version)) if integrity == "ok" => Check::ok(
                "store",
                format!(
                    "{}: schema version {version} (binary {SCHEMA_VERSION}), integrity ok",
                    path.display()
                ),
            ),
            (Ok(integrity), Ok(_)) => Check::fail(
                "store",
                Exit::Internal,
                format!("{}: integrity check failed: {integrity}", path.display()),
                "restore the store from a backup, or move it aside and let the next run \
                 rebuild it from Katana (Luca ids are re-adopted by lookup)",
            ),
        },
    }
}

fn lock_check(config: &Config) -> Check {
    let path = &config.store.path;
    match StoreLock::acquire(path) {
        Ok(_) => Check::ok("lock", "free"),
        Err(e) => Check::ok("lock", format!("held: {e}")),
    }
}
