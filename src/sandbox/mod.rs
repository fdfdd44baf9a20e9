//! The sandbox: a simulator of the parts of the Katana and Luca Koza APIs the tool uses,
//! served over real HTTP on one address (Katana under `/v1`, Luca under `/Yetki`).
//!
//! It is the adversary the tool is tested against, so it follows `reference/` rather than
//! what a client would like: Katana pages, rate-limits and sends numbers as strings; Luca
//! answers errors with HTTP 200, keeps state in a cookie session, and takes a duplicate
//! cari or invoice without a word. Faults (`faults.rs`) add outages, dropped connections
//! and lost answers; `GET /_sandbox/stats` reports what it saw. See `docs/sandbox.md`.
//!
//! Layout: `model` (Katana records and mutators), `data` (the seeded demo data), `ledger`
//! (Luca objects and rules), `katana` / `luca` (the HTTP sides), `faults`, `stats`,
//! `state` (the optional state file), `conn` (cuttable connections), `serve` (the
//! `sandbox serve` command).

mod conn;
pub mod data;
pub mod faults;
mod katana;
pub mod ledger;
mod lookups;
mod luca;
pub mod model;
mod serve;
mod state;
pub mod stats;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub use faults::{Faults, FaultsError, KatanaFaults, LookupFail, LucaFaults};
pub use ledger::LucaData;
pub use model::{KatanaData, NewOrderRow, NewSalesOrder, now};
pub use serve::{serve, serve_with};
pub use stats::Stats;

use conn::{ConnHandle, CuttableListener};
use faults::Dice;

/// The credentials and ids the simulator accepts unless told otherwise (SPEC section 6):
/// `sandbox serve`'s defaults, and what `--sandbox` logs in with.
pub const KATANA_KEY: &str = "sandbox-key";
pub const LUCA_ORG_CODE: &str = "1000";
pub const LUCA_USER: &str = "Admin";
pub const LUCA_PASSWORD: &str = "sandbox";
pub const LUCA_BRANCH_ID: i64 = 1;

/// Everything that shapes a sandbox. `Default` is the demo: seed 42, 200 orders, 60
/// products, 300 customers, bad records on, 60 Katana requests a minute, and the
/// credentials of SPEC section 6.
#[derive(Debug, Clone)]
pub struct SandboxOptions {
    pub seed: u64,
    pub orders: usize,
    pub products: usize,
    pub customers: usize,
    /// Latency added to every response.
    pub latency_ms: u64,
    pub faults: Faults,
    /// Seed the deliberately bad records (see `docs/sandbox.md`).
    pub bad_records: bool,
    /// Katana requests allowed per key per 60 s.
    pub rate_limit: u32,
    pub katana_key: String,
    pub luca_org_code: String,
    pub luca_user: String,
    pub luca_password: String,
    /// The branch (`orgSirketSubeId`) the demo data is seeded into.
    pub luca_branch_id: i64,
    /// Load the whole state from this file at start and save it after every change.
    pub state_file: Option<PathBuf>,
}

impl Default for SandboxOptions {
    fn default() -> Self {
        Self {
            seed: 42,
            orders: 200,
            products: 60,
            customers: 300,
            latency_ms: 0,
            faults: Faults::default(),
            bad_records: true,
            rate_limit: 60,
            katana_key: KATANA_KEY.into(),
            luca_org_code: LUCA_ORG_CODE.into(),
            luca_user: LUCA_USER.into(),
            luca_password: LUCA_PASSWORD.into(),
            luca_branch_id: LUCA_BRANCH_ID,
            state_file: None,
        }
    }
}

/// clap value parser for `--faults`: checks the spec, keeps the text.
pub fn parse_fault_spec(spec: &str) -> Result<String, FaultsError> {
    spec.parse::<Faults>().map(|_| spec.to_string())
}

type Hook = Box<dyn FnOnce(&mut KatanaData) + Send>;

struct PendingHook {
    path: String,
    remaining: usize,
    hook: Hook,
}

/// State shared by every request handler.
pub(crate) struct Shared {
    opts: SandboxOptions,
    katana: Mutex<KatanaData>,
    luca: Mutex<LucaData>,
    stats: Mutex<Stats>,
    faults: Mutex<Faults>,
    /// Fault dice; a separate generator makes session ids so logins do not shift faults.
    dice: Dice,
    id_dice: Dice,
    katana_rt: Mutex<katana::Runtime>,
    luca_rt: Mutex<luca::Runtime>,
    hooks: Mutex<Vec<PendingHook>>,
    persister: Option<state::Persister>,
    /// Changed since the state file was last written.
    dirty: std::sync::atomic::AtomicBool,
    /// A save is scheduled.
    saving: std::sync::atomic::AtomicBool,
}

/// Locks a mutex, ignoring poisoning: a panicking test hook must not wedge the server.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Shared {
    fn faults(&self) -> Faults {
        lock(&self.faults).clone()
    }

    fn stat(&self, f: impl FnOnce(&mut Stats)) {
        f(&mut lock(&self.stats));
    }

    /// Counts a request on its endpoint and on its side's total.
    fn count_request(&self, method: &axum::http::Method, path: &str) {
        let mut stats = lock(&self.stats);
        stats.hit(format!("{method} {path}"));
        if path.starts_with("/v1") {
            stats.katana.total += 1;
        } else {
            stats.luca.total += 1;
        }
    }

    /// Marks the state changed; the state file (when there is one) is written shortly
    /// after, at most every quarter second. Writing the whole remote after every request
    /// made a push of a few hundred cards take seconds.
    fn persist(self: &Arc<Self>) {
        use std::sync::atomic::Ordering;
        if self.persister.is_none() {
            return;
        }
        self.dirty.store(true, Ordering::SeqCst);
        if self.saving.swap(true, Ordering::SeqCst) {
            return;
        }
        let shared = Arc::clone(self);
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(250));
            shared.saving.store(false, Ordering::SeqCst);
            shared.flush();
        });
    }

    /// Writes the state file now if anything changed.
    fn flush(&self) {
        use std::sync::atomic::Ordering;
        if let Some(p) = &self.persister
            && self.dirty.swap(false, Ordering::SeqCst)
        {
            p.save(&self.katana, &self.luca);
        }
    }

    /// Counts a successful answer on `path` and runs the hooks that were waiting for it.
    fn after_katana_answer(self: &Arc<Self>, path: &str) {
        let due: Vec<Hook> = {
            let mut hooks = lock(&self.hooks);
            let mut due = Vec::new();
            let mut i = 0;
            while i < hooks.len() {
                if hooks[i].path == path {
                    hooks[i].remaining = hooks[i].remaining.saturating_sub(1);
                    if hooks[i].remaining == 0 {
                        due.push(hooks.remove(i).hook);
                        continue;
                    }
                }
                i += 1;
            }
            due
        };
        if due.is_empty() {
            return;
        }
        {
            let mut data = lock(&self.katana);
            for hook in due {
                hook(&mut data);
            }
        }
        self.persist();
    }
}

/// A running sandbox. Dropping it stops the server too; [`Sandbox::shutdown`] also waits.
pub struct Sandbox {
    addr: SocketAddr,
    shared: Arc<Shared>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl Sandbox {
    /// Builds (or loads) the data and serves both APIs on `addr` from a spawned task.
    /// `"127.0.0.1:0"` picks a free port; [`Sandbox::addr`] tells which.
    pub async fn start(opts: SandboxOptions, addr: &str) -> anyhow::Result<Sandbox> {
        use anyhow::Context as _;

        let loaded = match &opts.state_file {
            Some(path) => state::load(path)?,
            None => None,
        };
        let fresh = loaded.is_none();
        let (katana_data, luca_data) = loaded.unwrap_or_else(|| data::generate(&opts));
        let persister = opts.state_file.clone().map(state::Persister::new);
        let burst = opts.faults.katana.burst429;
        let shared = Arc::new(Shared {
            katana: Mutex::new(katana_data),
            luca: Mutex::new(luca_data),
            stats: Mutex::new(Stats::default()),
            faults: Mutex::new(opts.faults.clone()),
            dice: Dice::new(opts.seed),
            id_dice: Dice::new(opts.seed ^ 0x005E_ED0F_5E55_1045),
            katana_rt: Mutex::new(katana::Runtime::new(burst)),
            luca_rt: Mutex::new(luca::Runtime::default()),
            hooks: Mutex::new(Vec::new()),
            persister,
            dirty: std::sync::atomic::AtomicBool::new(false),
            saving: std::sync::atomic::AtomicBool::new(false),
            opts,
        });
        if fresh {
            // A new state file starts as the generated data, so a later run loads the
            // same remote even if this one changed nothing.
            shared
                .dirty
                .store(true, std::sync::atomic::Ordering::SeqCst);
            shared.flush();
        }
        let listener = TcpListener::bind(addr)
            .await
            .with_context(|| format!("sandbox: cannot listen on {addr}"))?;
        let local = listener.local_addr()?;
        let app = router(shared.clone());
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let server = axum::serve(
                CuttableListener::new(listener),
                app.into_make_service_with_connect_info::<ConnHandle>(),
            )
            .with_graceful_shutdown(async {
                let _ = stopped.await;
            });
            if let Err(e) = server.await {
                tracing::error!("sandbox server stopped: {e}");
            }
        });
        Ok(Sandbox {
            addr: local,
            shared,
            stop: Some(stop),
            task: Some(task),
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://ADDR/v1`
    pub fn katana_url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    /// `http://ADDR/Yetki`
    pub fn luca_url(&self) -> String {
        format!("http://{}/Yetki", self.addr)
    }

    pub fn stats(&self) -> Stats {
        lock(&self.shared.stats).clone()
    }

    pub fn reset_stats(&self) {
        *lock(&self.shared.stats) = Stats::default();
    }

    /// Replaces the fault knobs (and restarts the `burst429` and `stall_after` counts).
    pub fn set_faults(&self, f: Faults) {
        set_faults(&self.shared, f);
    }

    /// Direct access to the Katana data; the state file is saved afterwards.
    pub fn with_katana<R>(&self, f: impl FnOnce(&mut KatanaData) -> R) -> R {
        let r = f(&mut lock(&self.shared.katana));
        self.shared.persist();
        r
    }

    /// Direct access to the Luca ledger; the state file is saved afterwards.
    pub fn with_luca<R>(&self, f: impl FnOnce(&mut LucaData) -> R) -> R {
        let r = f(&mut lock(&self.shared.luca));
        self.shared.persist();
        r
    }

    /// Runs `f` once, right after the `n`-th successful (2xx) answer on `path` (for example
    /// `"/v1/sales_orders"`) counted from now, before that answer is sent: the client's next
    /// request is sure to see the change. `n == 0` runs it at once.
    pub fn after_katana_requests(
        &self,
        path: &str,
        n: usize,
        f: Box<dyn FnOnce(&mut KatanaData) + Send>,
    ) {
        if n == 0 {
            self.with_katana(f);
            return;
        }
        lock(&self.shared.hooks).push(PendingHook {
            path: path.to_string(),
            remaining: n,
            hook: f,
        });
    }

    /// Stops accepting, lets open requests finish for up to two seconds, then stops.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(mut task) = self.task.take()
            && tokio::time::timeout(Duration::from_secs(2), &mut task)
                .await
                .is_err()
        {
            task.abort();
        }
        // Drop writes the state file, now that no request is in flight.
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        self.shared.flush();
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

fn set_faults(shared: &Shared, f: Faults) {
    lock(&shared.katana_rt).restart_counts(f.katana.burst429);
    *lock(&shared.faults) = f;
}

fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/_sandbox/stats", get(get_stats))
        .route("/_sandbox/stats/reset", post(reset_stats))
        .route("/_sandbox/faults", post(post_faults).get(get_faults))
        .route("/v1", any(katana::handle))
        .route("/v1/{*rest}", any(katana::handle))
        .route("/Yetki/{*rest}", any(luca::handle))
        .fallback(|| async { (StatusCode::NOT_FOUND, "not found\n") })
        .with_state(shared)
}

async fn get_stats(State(shared): State<Arc<Shared>>) -> Response {
    let stats = lock(&shared.stats).clone();
    axum::Json(stats).into_response()
}

async fn reset_stats(State(shared): State<Arc<Shared>>) -> Response {
    *lock(&shared.stats) = Stats::default();
    StatusCode::NO_CONTENT.into_response()
}

async fn get_faults(State(shared): State<Arc<Shared>>) -> Response {
    shared.faults().to_string().into_response()
}

/// Body: a fault spec, which replaces the current faults. Answers the canonical spec, or
/// 400 with the error naming the bad key.
async fn post_faults(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    let spec = String::from_utf8_lossy(&body);
    match spec.trim().parse::<Faults>() {
        Ok(f) => {
            let canonical = f.to_string();
            set_faults(&shared, f);
            (
                [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
                canonical,
            )
                .into_response()
        }
        Err(e) => (StatusCode::BAD_REQUEST, format!("{e}\n")).into_response(),
    }
}
