//! What every command runs with: the options, the configuration, the store (and its
//! lock, for commands that write), and the remote clients, built on first use so that
//! a Katana-only pass never needs (or touches) Luca.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::cli::GlobalOpts;
use crate::config::{self, Config, Overrides};
use crate::katana::{KatanaClient, Limiter};
use crate::luca::LucaClient;
use crate::progress::Mode;
use crate::store::Store;
use crate::store::lock::StoreLock;

/// What a command needs before it can run.
#[derive(Debug, Clone, Copy)]
pub struct Needs {
    /// A config file must exist (SPEC section 3 lists the commands that need none).
    pub config_file: bool,
    /// The command writes: take the store's lock (exit 75 when another run holds it).
    pub lock: bool,
}

impl Needs {
    /// A command that writes: the lock, and a config file unless under `--sandbox`.
    pub fn writer(opts: &GlobalOpts) -> Needs {
        Needs {
            config_file: !opts.sandbox,
            lock: true,
        }
    }

    /// A command that only reads the store: neither.
    pub const READER: Needs = Needs {
        config_file: false,
        lock: false,
    };
}

pub struct Ctx {
    /// The in-process simulator under `--sandbox` (stops when the context drops).
    pub sandbox: Option<crate::sandbox::Sandbox>,
    pub opts: GlobalOpts,
    pub config: Config,
    pub store: Store,
    pub progress: Mode,
    /// Every HTTP request sent, retries and 429s included, per remote.
    pub requests: Arc<RequestCounters>,
    katana: tokio::sync::OnceCell<KatanaClient>,
    luca: tokio::sync::OnceCell<LucaClient>,
    _lock: Option<StoreLock>,
}

#[derive(Debug, Default)]
pub struct RequestCounters {
    pub katana: AtomicU64,
    pub luca: AtomicU64,
}

impl RequestCounters {
    pub fn snapshot(&self) -> crate::report::Requests {
        crate::report::Requests {
            katana: self.katana.load(Ordering::Relaxed),
            luca: self.luca.load(Ordering::Relaxed),
        }
    }
}

impl Ctx {
    pub async fn open(opts: &GlobalOpts, progress: Mode, needs: Needs) -> anyhow::Result<Ctx> {
        if opts.sandbox {
            return Self::open_sandbox(opts, progress, needs).await;
        }
        let overrides = Overrides {
            config: opts.config.clone(),
            db: opts.db.clone(),
        };
        let config = config::load(&overrides, &config::process_env, needs.config_file)?;
        Self::with_config(opts, progress, needs, config)
    }

    /// The store alone, for commands that only read it (`history`, `adjustments list`):
    /// no config file needed, no lock, no simulator started.
    pub fn read_store(opts: &GlobalOpts) -> anyhow::Result<Store> {
        let path = if opts.sandbox {
            opts.db
                .clone()
                .unwrap_or_else(|| PathBuf::from(config::SANDBOX_STORE))
        } else {
            let overrides = Overrides {
                config: opts.config.clone(),
                db: opts.db.clone(),
            };
            config::load(&overrides, &config::process_env, false)?
                .store
                .path
        };
        Store::open(&path)
    }

    /// `--sandbox`: the built-in simulator on 127.0.0.1:0 with demo data, no config file
    /// and no credentials, and a store of its own (`katana-sync-sandbox.db` unless
    /// `--db`). The simulator's data are kept beside that store, so a second run sees
    /// the same remote and shows the incremental behaviour.
    async fn open_sandbox(opts: &GlobalOpts, progress: Mode, needs: Needs) -> anyhow::Result<Ctx> {
        let store = opts
            .db
            .clone()
            .unwrap_or_else(|| PathBuf::from(config::SANDBOX_STORE));
        let mut state = store.as_os_str().to_owned();
        state.push(".sandbox.json");
        let sandbox_opts = crate::sandbox::SandboxOptions {
            state_file: Some(PathBuf::from(state)),
            ..Default::default()
        };
        let overrides = Overrides {
            config: None,
            db: Some(store),
        };
        // Never the operator's sync.toml: the sandbox must not pick up real mappings.
        let defaults = config::defaults(&overrides, &|_| None)?;
        // The lock first: a second run must not even start a simulator on this state.
        let lock = if needs.lock {
            Some(StoreLock::acquire(&defaults.store.path)?)
        } else {
            None
        };
        let sandbox = crate::sandbox::Sandbox::start(sandbox_opts, "127.0.0.1:0").await?;
        tracing::debug!(
            "sandbox: katana {} luca {}",
            sandbox.katana_url(),
            sandbox.luca_url()
        );
        let config = defaults.for_sandbox(sandbox.katana_url(), sandbox.luca_url());
        let mut ctx = Self::with_config(
            opts,
            progress,
            Needs {
                lock: false,
                ..needs
            },
            config,
        )?;
        ctx._lock = lock;
        ctx.sandbox = Some(sandbox);
        Ok(ctx)
    }

    pub fn with_config(
        opts: &GlobalOpts,
        progress: Mode,
        needs: Needs,
        config: Config,
    ) -> anyhow::Result<Ctx> {
        let path = config.store.path.clone();
        // The lock comes first: a second run must not even open (or migrate) the store.
        let lock = if needs.lock {
            Some(StoreLock::acquire(&path)?)
        } else {
            None
        };
        let store = Store::open(&path)?;
        Ok(Ctx {
            sandbox: None,
            opts: opts.clone(),
            config,
            store,
            progress,
            requests: Arc::default(),
            katana: tokio::sync::OnceCell::new(),
            luca: tokio::sync::OnceCell::new(),
            _lock: lock,
        })
    }

    /// The Katana client, created on first use (exit 78 if the key is missing).
    pub async fn katana(&self) -> anyhow::Result<&KatanaClient> {
        self.katana
            .get_or_try_init(|| async {
                self.config.require_katana()?;
                let limiter = Limiter::open(
                    &self.config.store.path,
                    self.config.katana.requests_per_minute,
                    self.dry_run(),
                )?;
                KatanaClient::new(
                    &self.config.katana,
                    self.config.sync.max_attempts,
                    limiter,
                    self.requests.clone(),
                )
            })
            .await
    }

    /// The Luca client, created on first use (exit 78 if the login is incomplete).
    /// Sessions log in lazily, on their first call.
    pub async fn luca(&self) -> anyhow::Result<&LucaClient> {
        self.luca
            .get_or_try_init(|| async {
                self.config.require_luca()?;
                LucaClient::new(
                    &self.config.luca,
                    self.config.sync.max_attempts,
                    self.requests.clone(),
                )
            })
            .await
    }

    /// Called after each pass: writes what a dry run had to hold back.
    pub fn after_pass(&self) {
        if let Some(k) = self.katana.get() {
            k.flush_rate_log();
        }
    }

    pub fn store_path(&self) -> PathBuf {
        self.config.store.path.clone()
    }

    pub fn dry_run(&self) -> bool {
        self.opts.dry_run
    }
}
