//! What every command runs with: the options, the configuration, the store (and its
//! lock, for commands that write), and the remote clients, built on first use so that
//! a Katana-only pass never needs (or touches) Luca.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicUsize, Ordering};

use crate::net::RequestCounters;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

use crate::config::{self, Config, Overrides};
use crate::error::{Error, Signal};
use crate::katana::{KatanaClient, Limiter};
use crate::luca::LucaClient;
use crate::progress::Mode;
use crate::report::{Requests, Tally};
use crate::store::lock::StoreLock;
use crate::store::{Access, Store};

/// A command that takes the lock writes, and may create the store; one that does not
/// only reads, and never creates one.
fn access(needs: Needs) -> Access {
    if needs.lock {
        Access::Create
    } else {
        Access::Existing
    }
}

/// What the global flags ask of a command, free of the command line's types, so the
/// library (and `examples/bench.rs`) can open a context without building a `Cli`.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// The config file; `None`: ./sync.toml.
    pub config: Option<PathBuf>,
    /// The store, over `[store] path`.
    pub db: Option<PathBuf>,
    pub dry_run: bool,
    pub json: bool,
    pub quiet: u8,
    pub sandbox: bool,
    /// `--metrics-file`, over `[metrics] textfile`.
    pub metrics_file: Option<PathBuf>,
    /// Where results go and the environment is read: the process's own by default.
    pub host: crate::host::Host,
}

impl Options {
    /// The config, layered file → environment → these flags (SPEC section 2); `required`:
    /// a missing config file is an error.
    pub fn load_config(&self, required: bool) -> Result<config::Config, crate::error::Error> {
        let overrides = Overrides {
            config: self.config.clone(),
            db: self.db.clone(),
        };
        config::load(&overrides, &|key| self.host.var(key), required)
    }
}

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
    pub fn writer(opts: &Options) -> Needs {
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
    pub opts: Options,
    pub config: Config,
    pub store: Store,
    pub progress: Mode,
    /// Every HTTP request sent, retries and 429s included, per remote.
    pub requests: Arc<RequestCounters>,
    /// SIGINT / SIGTERM: the pass stops at its next safe point.
    pub stop: Stop,
    katana: tokio::sync::OnceCell<KatanaClient>,
    luca: tokio::sync::OnceCell<LucaClient>,
    /// The run being recorded, for progressive counts ([`Ctx::checkpoint`]).
    run: Mutex<Option<ActiveRun>>,
    _lock: Option<StoreLock>,
}

struct ActiveRun {
    id: i64,
    requests_before: Requests,
    last_checkpoint: Instant,
}

/// How often a running pass writes its counts to its run row at most: often enough
/// that a killed run keeps nearly all of them, rarely enough not to add an fsync to
/// every create of a push (each store commit is one).
const CHECKPOINT_EVERY: Duration = Duration::from_millis(200);

/// Stopping at a safe point on SIGINT / SIGTERM, shared by every pass of the process.
///
/// The first signal while a pass runs only asks it to stop: a pass looks at
/// [`Ctx::stop_requested`] (or [`Ctx::check_stop`]) between records, starts nothing
/// new, lets what is in flight finish, and the runner records and prints what was done.
/// A second signal, or one while no pass runs (or at a prompt), exits at once: nothing
/// is half-written then, since no store transaction spans an await, and the run left
/// `running` is closed as interrupted by the next run that takes the lock.
#[derive(Clone, Default)]
pub struct Stop(Arc<StopState>);

#[derive(Default)]
struct StopState {
    token: CancellationToken,
    /// 0: none; else the signal number.
    signal: AtomicU8,
    /// Passes running that can stop at a safe point.
    armed: AtomicUsize,
    prompting: AtomicBool,
}

impl Stop {
    /// The process's one instance: signals are process-wide.
    pub fn process() -> Stop {
        static STOP: OnceLock<Stop> = OnceLock::new();
        STOP.get_or_init(Stop::default).clone()
    }

    /// The signal that asked the pass to stop, if any.
    pub fn requested(&self) -> Option<Signal> {
        match self.0.signal.load(Ordering::SeqCst) {
            2 => Some(Signal::Interrupt),
            15 => Some(Signal::Terminate),
            _ => None,
        }
    }

    /// Asks the running pass to stop; false when a stop was already asked for.
    pub fn request(&self, signal: Signal) -> bool {
        let n = match signal {
            Signal::Interrupt => 2,
            Signal::Terminate => 15,
        };
        let first = self
            .0
            .signal
            .compare_exchange(0, n, Ordering::SeqCst, Ordering::SeqCst)
            .is_ok();
        self.0.token.cancel();
        first
    }

    /// Resolves once a stop is asked for.
    pub async fn requested_wait(&self) {
        self.0.token.cancelled().await
    }

    /// While the guard lives, a first signal asks for a stop instead of exiting.
    pub fn arm(&self) -> impl Drop + use<> {
        struct Armed(Stop);
        impl Drop for Armed {
            fn drop(&mut self) {
                self.0.0.armed.fetch_sub(1, Ordering::SeqCst);
            }
        }
        self.0.armed.fetch_add(1, Ordering::SeqCst);
        Armed(self.clone())
    }

    /// While the guard lives (a blocking question on the terminal), a signal exits at
    /// once: nothing is in flight, and the prompt could not notice a stop anyway.
    pub fn prompting(&self) -> impl Drop + use<> {
        struct Prompting(Stop);
        impl Drop for Prompting {
            fn drop(&mut self) {
                self.0.0.prompting.store(false, Ordering::SeqCst);
            }
        }
        self.0.prompting.store(true, Ordering::SeqCst);
        Prompting(self.clone())
    }

    /// Listens for SIGINT and SIGTERM for the rest of the process (call once, inside
    /// the runtime).
    pub fn listen(&self) -> std::io::Result<()> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            let mut int = signal(SignalKind::interrupt())?;
            let mut term = signal(SignalKind::terminate())?;
            let stop = self.clone();
            tokio::spawn(async move {
                loop {
                    let sig = tokio::select! {
                        Some(()) = int.recv() => Signal::Interrupt,
                        Some(()) = term.recv() => Signal::Terminate,
                        else => return,
                    };
                    stop.on_signal(sig);
                }
            });
        }
        #[cfg(not(unix))]
        {
            let stop = self.clone();
            tokio::spawn(async move {
                while tokio::signal::ctrl_c().await.is_ok() {
                    stop.on_signal(Signal::Interrupt);
                }
            });
        }
        Ok(())
    }

    fn on_signal(&self, sig: Signal) {
        let state = &self.0;
        let at_once = state.armed.load(Ordering::SeqCst) == 0
            || state.prompting.load(Ordering::SeqCst)
            || !self.request(sig);
        if at_once {
            eprintln!(
                "katana-sync: {sig}: exiting at once; a run left open is closed as interrupted \
                 by the next run, and anything in doubt is looked up before it is sent again"
            );
            std::process::exit(i32::from(sig.exit().code()));
        }
        eprintln!(
            "katana-sync: {sig}: stopping at a safe point (no new create starts; those in \
             flight finish); the summary follows. Signal again to exit at once"
        );
    }
}

impl Ctx {
    pub async fn open(opts: &Options, progress: Mode, needs: Needs) -> anyhow::Result<Ctx> {
        if opts.sandbox {
            return Self::open_sandbox(opts, progress, needs).await;
        }
        let config = opts.load_config(needs.config_file)?;
        Self::with_config(opts, progress, needs, config)
    }

    /// The store alone, for commands that only read it (`history`, `adjustments list`):
    /// no config file needed, no lock, no simulator started.
    pub fn read_store(opts: &Options) -> anyhow::Result<Store> {
        let path = if opts.sandbox {
            opts.db
                .clone()
                .unwrap_or_else(|| PathBuf::from(config::SANDBOX_STORE))
        } else {
            opts.load_config(false)?.store.path
        };
        Store::open_existing(&path)
    }

    /// `--sandbox`: the built-in simulator on 127.0.0.1:0 with demo data, no config file
    /// and no credentials, and a store of its own (`katana-sync-sandbox.db` unless
    /// `--db`). The simulator's data are kept beside that store, so a second run sees
    /// the same remote and shows the incremental behaviour.
    async fn open_sandbox(opts: &Options, progress: Mode, needs: Needs) -> anyhow::Result<Ctx> {
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
        // The path before the simulator writes its state file beside it; the lock
        // next: a second run must not even start a simulator on this state.
        crate::store::check_path(&defaults.store.path, Access::Create)?;
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
        // The simulator writes its state file beside the store at once: the demo store
        // is created with it, even for `--sandbox doctor`.
        let mut ctx = Self::build(opts, progress, Access::Create, lock, config)?;
        ctx.sandbox = Some(sandbox);
        Ok(ctx)
    }

    pub fn with_config(
        opts: &Options,
        progress: Mode,
        needs: Needs,
        config: Config,
    ) -> anyhow::Result<Ctx> {
        let path = config.store.path.clone();
        // The path is checked before anything is created beside it (the lock file);
        // the lock comes before the store: a second run must not even open (or
        // migrate) it.
        let lock = if needs.lock {
            crate::store::check_path(&path, Access::Create)?;
            Some(StoreLock::acquire(&path)?)
        } else {
            None
        };
        Self::build(opts, progress, access(needs), lock, config)
    }

    fn build(
        opts: &Options,
        progress: Mode,
        access: Access,
        lock: Option<StoreLock>,
        config: Config,
    ) -> anyhow::Result<Ctx> {
        let store = Store::open_with(&config.store.path, access)?;
        if lock.is_some() {
            // Holding the lock, any run still marked running belongs to a dead process.
            for id in store.close_interrupted_runs(&crate::store::now())? {
                tracing::warn!(
                    "run {id} had not been closed (its process was killed); recorded it as \
                     failed, interrupted"
                );
            }
        }
        Ok(Ctx {
            sandbox: None,
            opts: opts.clone(),
            config,
            store,
            progress,
            requests: Arc::default(),
            stop: Stop::process(),
            katana: tokio::sync::OnceCell::new(),
            luca: tokio::sync::OnceCell::new(),
            run: Mutex::new(None),
            _lock: lock,
        })
    }

    /// The signal that asked this pass to stop, if any: a pass starts nothing new once
    /// it is set.
    pub fn stop_requested(&self) -> Option<Signal> {
        self.stop.requested()
    }

    /// `Err(Interrupted)` once a stop is asked for: for a pass to call at its safe
    /// points (after a committed page, before the next record).
    pub fn check_stop(&self) -> Result<(), Error> {
        match self.stop_requested() {
            Some(signal) => Err(Error::Interrupted { signal }),
            None => Ok(()),
        }
    }

    /// Records the pass's counts so far in its run row (at most every 200 ms), so a
    /// killed run is closed with them. Call after each committed page or push result.
    pub fn checkpoint(&self, tally: &Tally) -> anyhow::Result<()> {
        if self.dry_run() {
            return Ok(()); // its writes are rolled back anyway
        }
        let mut run = self.run.lock().expect("run state");
        let Some(active) = run.as_mut() else {
            return Ok(());
        };
        if active.last_checkpoint.elapsed() < CHECKPOINT_EVERY {
            return Ok(());
        }
        active.last_checkpoint = Instant::now();
        let now = self.requests.snapshot();
        let before = active.requests_before;
        let requests = Requests {
            katana: now.katana - before.katana,
            luca: now.luca - before.luca,
        };
        self.store.checkpoint_run(active.id, tally, requests)
    }

    /// Marks the start (`Some`) and the end (`None`) of the run being recorded.
    pub(crate) fn set_active_run(&self, run_id: Option<i64>) {
        *self.run.lock().expect("run state") = run_id.map(|id| ActiveRun {
            id,
            requests_before: self.requests.snapshot(),
            last_checkpoint: Instant::now(),
        });
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

    pub fn dry_run(&self) -> bool {
        self.opts.dry_run
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_signal_asks_once_and_says_which() {
        let stop = Stop::default();
        assert_eq!(stop.requested(), None);
        assert!(stop.request(Signal::Terminate));
        assert!(
            !stop.request(Signal::Interrupt),
            "a second one is not a new request"
        );
        assert_eq!(stop.requested(), Some(Signal::Terminate));
    }
}
