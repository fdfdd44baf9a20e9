//! The harness of the tool's integration tests: a real sandbox on 127.0.0.1:0 (its own
//! tokio runtime in the test process), a real SQLite store in a temporary directory, and
//! the real `katana-sync` binary run as a child process against both. A pipeline test
//! that needs no process of its own (no signal, no kill, no log line on stderr, no
//! terminal) asks for [`Env::in_process`]: the same command line then runs through
//! `katana_sync::commands::run_with` in this process, over the same HTTP and store,
//! without a process start per command. `sandbox` serves the tests that drive the
//! simulator directly.

#![allow(dead_code)]

pub mod invoicing;
pub mod sandbox;

use std::cell::Cell;
use std::os::unix::process::ExitStatusExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};

use katana_sync::sandbox::{Sandbox, SandboxOptions, Stats};
use serde_json::Value;

pub struct Env {
    pub dir: tempfile::TempDir,
    pub sandbox: Option<Sandbox>,
    rt: tokio::runtime::Runtime,
    /// Extra lines for the config file.
    pub config_extra: String,
    /// `run` and `run_json` run the command in this process (see the module doc).
    in_process: Cell<bool>,
}

/// The secrets a run reads from its environment (SPEC section 2), the same for the
/// binary and for an in-process run.
const SECRETS: [(&str, &str); 2] = [
    ("KATANA_API_KEY", "sandbox-key"),
    ("LUCA_PASSWORD", "sandbox"),
];

/// Settings of the tool for a test.
pub struct Tool {
    pub requests_per_minute: u32,
    pub page_size: u32,
    pub sessions: u32,
    pub charset: &'static str,
    pub luca_timeout_secs: u32,
    pub auto_approve: bool,
    pub lookback_minutes: u32,
    pub extra: &'static str,
}

impl Default for Tool {
    fn default() -> Self {
        Tool {
            requests_per_minute: 600,
            page_size: 250,
            sessions: 4,
            charset: "utf-8",
            luca_timeout_secs: 5,
            auto_approve: false,
            lookback_minutes: 10,
            extra: "",
        }
    }
}

/// A data set with no deliberately bad records.
pub fn clean(orders: usize, products: usize, customers: usize) -> SandboxOptions {
    SandboxOptions {
        orders,
        products,
        customers,
        bad_records: false,
        rate_limit: 600,
        ..SandboxOptions::default()
    }
}

impl Env {
    pub fn new(opts: SandboxOptions, tool: Tool) -> Env {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        let sandbox = rt
            .block_on(Sandbox::start(opts, "127.0.0.1:0"))
            .expect("sandbox starts");
        let dir = tempfile::tempdir().expect("tempdir");
        let env = Env {
            dir,
            sandbox: Some(sandbox),
            rt,
            config_extra: String::new(),
            in_process: Cell::new(false),
        };
        env.write_config(&tool);
        env
    }

    /// From now on `run` and `run_json` run the command in this process.
    pub fn in_process(self) -> Env {
        self.in_process.set(true);
        self
    }

    pub fn sandbox(&self) -> &Sandbox {
        self.sandbox.as_ref().expect("sandbox running")
    }

    pub fn db(&self) -> PathBuf {
        self.dir.path().join("store.db")
    }

    pub fn config_path(&self) -> PathBuf {
        self.dir.path().join("sync.toml")
    }

    pub fn write_config(&self, tool: &Tool) {
        let sb = self.sandbox();
        let text = format!(
            r#"[store]
path = "{db}"

[katana]
base_url = "{katana}"
requests_per_minute = {rpm}
page_size = {page}
timeout_secs = 10

[luca]
base_url = "{luca}"
org_code = "1000"
username = "Admin"
branch_id = 1
sessions = {sessions}
request_charset = "{charset}"
timeout_secs = {luca_timeout}

[sync]
max_attempts = 3
auto_approve = {auto_approve}
lookback_minutes = {lookback}

[mapping]
default_unit_id = 5
default_warehouse = ""

[mapping.warehouses]
"1001" = "001"
"1002" = "002"
{extra}
"#,
            db = self.db().display(),
            katana = sb.katana_url(),
            luca = sb.luca_url(),
            rpm = tool.requests_per_minute,
            page = tool.page_size,
            sessions = tool.sessions,
            charset = tool.charset,
            luca_timeout = tool.luca_timeout_secs,
            auto_approve = tool.auto_approve,
            lookback = tool.lookback_minutes,
            extra = tool.extra,
        );
        std::fs::write(self.config_path(), text).expect("config written");
    }

    /// The binary, with this test's config and the secrets in the environment.
    pub fn cmd(&self) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_katana-sync"));
        cmd.current_dir(self.dir.path())
            .arg("--config")
            .arg(self.config_path())
            .arg("--no-progress")
            .envs(SECRETS)
            .env_remove("KATANA_SYNC_DB")
            .env_remove("KATANA_SYNC_CONFIG")
            .env_remove("KATANA_SYNC_LOG")
            .stdin(Stdio::null());
        cmd
    }

    pub fn run(&self, args: &[&str]) -> Output {
        if self.in_process.get() {
            return self.run_here(args);
        }
        self.cmd().args(args).output().expect("binary runs")
    }

    /// The command line `args` run in this process, as the binary would run it: the
    /// same parse, the same exit code, its results on `stdout`, and on `stderr` its
    /// messages and the error line `main` prints (logs are not captured: a test that
    /// reads them runs the binary).
    fn run_here(&self, args: &[&str]) -> Output {
        use clap::Parser as _;
        let config = self.config_path().display().to_string();
        let argv = ["katana-sync", "--config", &config, "--no-progress"];
        let output = |code: i32, stdout: Vec<u8>, stderr: String| Output {
            status: ExitStatus::from_raw(code << 8),
            stdout,
            stderr: stderr.into_bytes(),
        };
        let cli = match katana_sync::cli::Cli::try_parse_from(argv.iter().chain(args)) {
            Ok(cli) => cli,
            Err(e) => return output(e.exit_code(), Vec::new(), e.render().to_string()),
        };
        let (host, captured) = katana_sync::host::Host::captured(|key| {
            SECRETS
                .iter()
                .find(|(k, _)| *k == key)
                .map(|(_, v)| v.to_string())
        });
        let run = katana_sync::commands::run_with(cli, katana_sync::progress::Mode::Silent, host);
        let (code, error) = match self.rt.block_on(run) {
            Ok(exit) => (exit.code(), String::new()),
            Err(e) => (
                katana_sync::error::exit_for(&e).code(),
                format!("error: {e:#}\n"),
            ),
        };
        let stderr = String::from_utf8_lossy(&captured.stderr()).into_owned() + &error;
        let stdout = captured.stdout();
        output(i32::from(code), stdout, stderr)
    }

    /// Runs with `--json`; the exit code and the JSON document on stdout.
    pub fn run_json(&self, args: &[&str]) -> (i32, Value) {
        let with_json: Vec<&str> = std::iter::once("--json")
            .chain(args.iter().copied())
            .collect();
        let out = self.run(&with_json);
        let code = out.status.code().unwrap_or(-1);
        let v = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "no JSON on stdout ({e}) for {args:?}, exit {code}\nstdout: {}\nstderr: {}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            )
        });
        (code, v)
    }

    /// Starts `args` and kills it with SIGKILL once `creates` has grown by `target`
    /// since the start: the kill -9 sweeps' one move. False when the run ended first.
    pub fn kill_after_creates(
        &self,
        args: &[&str],
        target: u64,
        creates: impl Fn(&Stats) -> u64,
    ) -> bool {
        let before = creates(&self.stats());
        let mut child = self.spawn(args);
        let killed = loop {
            if child.try_wait().unwrap().is_some() {
                break false;
            }
            if creates(&self.stats()) - before >= target {
                child.kill().unwrap(); // SIGKILL
                break true;
            }
            std::thread::sleep(std::time::Duration::from_millis(1));
        };
        let _ = child.wait();
        killed
    }

    pub fn spawn(&self, args: &[&str]) -> Child {
        self.cmd()
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("binary starts")
    }

    pub fn stats(&self) -> Stats {
        self.sandbox().stats()
    }

    /// The store, opened read-only for assertions.
    pub fn store(&self) -> rusqlite::Connection {
        rusqlite::Connection::open_with_flags(self.db(), rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .expect("store opens")
    }

    pub fn count(&self, sql: &str) -> i64 {
        self.store().query_row(sql, [], |r| r.get(0)).expect(sql)
    }

    pub fn block_on<F: std::future::Future>(&self, f: F) -> F::Output {
        self.rt.block_on(f)
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        if let Some(sb) = self.sandbox.take() {
            self.rt.block_on(sb.shutdown());
        }
    }
}

/// The live product variants with a SKU, as the store holds them after a pull: the
/// cards a push must create.
pub fn eligible_skus(env: &Env) -> Vec<String> {
    let c = env.store();
    let mut stmt = c
        .prepare(
            "SELECT DISTINCT v.sku FROM variants v JOIN products p ON p.id = v.product_id
             WHERE v.deleted_at IS NULL AND p.deleted_at IS NULL AND v.sku IS NOT NULL ORDER BY v.sku",
        )
        .unwrap();
    stmt.query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

/// Cards per code in the sandbox's Luca (branch 1), deleted ones left out.
pub fn cards_with_code(env: &Env, code: &str) -> usize {
    env.sandbox().with_luca(|l| {
        l.stock_cards_with_code(1, code)
            .iter()
            .filter(|c| !c.deleted)
            .count()
    })
}

/// Requests the sandbox saw on one endpoint ("GET /v1/sales_orders").
pub fn hits(stats: &Stats, endpoint: &str) -> u64 {
    stats.requests.get(endpoint).copied().unwrap_or(0)
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `PRAGMA integrity_check` of a store file.
pub fn integrity(db: &Path) -> String {
    let c = rusqlite::Connection::open(db).expect("store");
    c.query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .expect("check")
}
