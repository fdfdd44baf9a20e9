//! The benchmark table. Not a test: it measures, on this machine,
//! - the first `orders pull` of a large backlog (the sandbox's rate limit lifted): its
//!   wall time and CPU against those of the bare walk of the same pages and of SQLite
//!   storing the same records alone, its peak RSS, and then a run with nothing changed
//!   on that store;
//! - how fast the push pipeline creates stock cards against the sandbox with
//!   per-session serialisation, compared with the bound `cards × latency / sessions`.
//!
//!     cargo run --release --example bench [-- CARDS LATENCY_MS ORDERS]
//!
//! `BENCH_ONLY=orders` runs only the orders pull table (walk, first pull, no-change
//! run), for iterating on the pull: `BENCH_ONLY=orders cargo run --release --example
//! bench -- 2000 20 20000`. `BENCH_PERF=DIR` records each orders-pull child with
//! `perf record -g` into `DIR/orders-pull-N.data` (its figures then include perf's cost).
//!
//! The pulls run in child processes (this program started again with `--child`), so
//! their CPU time and peak RSS are theirs alone, not the simulator's. Each push
//! scenario gets a fresh simulator (same seed) and a fresh copy of a store that
//! already holds the Katana products, so only the push is timed.

use std::path::Path;
use std::time::{Duration, Instant};

use futures::StreamExt as _;
use katana_sync::config::{self, Overrides};
use katana_sync::context::{Ctx, Needs, Options};
use katana_sync::progress::Mode;
use katana_sync::report::Tally;
use katana_sync::sandbox::{Sandbox, SandboxOptions};
use serde_json::json;

fn opts() -> Options {
    Options {
        quiet: 1,
        ..Options::default()
    }
}

fn sandbox_options(products: usize, latency_ms: u64) -> SandboxOptions {
    SandboxOptions {
        orders: 0,
        customers: 10,
        products,
        latency_ms,
        bad_records: false,
        rate_limit: 10_000,
        faults: "luca.serial=1".parse().expect("faults"),
        ..SandboxOptions::default()
    }
}

fn config_text(sb: &Sandbox, db: &Path, sessions: usize) -> String {
    format!(
        "[store]\npath = \"{}\"\n[katana]\nbase_url = \"{}\"\napi_key = \"sandbox-key\"\nrequests_per_minute = 10000\n\
         [luca]\nbase_url = \"{}\"\norg_code = \"1000\"\nusername = \"Admin\"\npassword = \"sandbox\"\nbranch_id = 1\nsessions = {sessions}\n\
         [mapping]\ndefault_unit_id = 5\n",
        db.display(),
        sb.katana_url(),
        sb.luca_url()
    )
}

async fn context(sb: &Sandbox, db: &Path, sessions: usize) -> anyhow::Result<Ctx> {
    context_from(&config_text(sb, db, sessions), Path::new("bench.toml"))
}

/// A writer's context from a config text (the store is created when absent).
fn context_from(text: &str, path: &Path) -> anyhow::Result<Ctx> {
    let cfg = config::from_str(text, path, &Overrides::default(), &|_| None)?;
    Ctx::with_config(
        &opts(),
        Mode::Silent,
        Needs {
            config_file: false,
            lock: true,
        },
        cfg,
    )
}

/// One logged-in Luca session with its branch selected, as a plain HTTP client.
async fn luca_session(sb: &Sandbox) -> anyhow::Result<reqwest::Client> {
    let http = reqwest::Client::builder().cookie_store(true).build()?;
    let url = |m: &str| format!("{}/{m}", sb.luca_url());
    http.post(url("Giris.do"))
        .json(&json!({"orgCode": "1000", "userName": "Admin", "userPassword": "sandbox"}))
        .send()
        .await?;
    http.post(url("GuncelleYtkSirketSubeDegistir.do"))
        .json(&json!({"orgSirketSubeId": 1}))
        .send()
        .await?;
    Ok(http)
}

/// How the earlier integration pushed: one session, many requests in flight on it.
async fn one_session_concurrent(
    sb: &Sandbox,
    skus: &[String],
    in_flight: usize,
) -> anyhow::Result<Duration> {
    let http = luca_session(sb).await?;
    let url = |m: &str| format!("{}/{m}", sb.luca_url());
    let started = Instant::now();
    futures::stream::iter(skus)
        .map(|sku| {
            let http = &http;
            let url = url("EkleStkWsSkart.do");
            async move {
                let body = json!({"kartAdi": format!("Kart {sku}"), "kartKodu": sku, "kartTuru": 1,
                                  "baslangicTarihi": "01/11/2026", "olcumBirimiId": 5});
                http.post(url).json(&body).send().await?.bytes().await
            }
        })
        .buffer_unordered(in_flight)
        .for_each(|r| async move {
            if let Err(e) = r {
                eprintln!("create failed: {e}");
            }
        })
        .await;
    Ok(started.elapsed())
}

/// What a child process used, read from `/proc/self` as it ends.
#[derive(Debug, Clone, Copy)]
struct Usage {
    wall: Duration,
    cpu: Duration,
    peak_rss_kib: u64,
    /// Bytes this process caused to be written to storage (`/proc/self/io`).
    written: u64,
}

fn own_usage(started: Instant) -> Usage {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let peak_rss_kib = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0);
    // Fields 14 and 15 of /proc/self/stat (after the command name in parentheses):
    // user and system time of every thread, in clock ticks.
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after_name = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<u64> = after_name
        .split_whitespace()
        .map(|f| f.parse().unwrap_or(0))
        .collect();
    let ticks = fields.get(11).copied().unwrap_or(0) + fields.get(12).copied().unwrap_or(0);
    let per_sec: u64 = std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
        .unwrap_or(100);
    let io = std::fs::read_to_string("/proc/self/io").unwrap_or_default();
    let written = io
        .lines()
        .find_map(|l| l.strip_prefix("write_bytes:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    Usage {
        wall: started.elapsed(),
        cpu: Duration::from_millis(ticks * 1000 / per_sec.max(1)),
        peak_rss_kib,
        written,
    }
}

/// A child's work: `walk` reads every page of the orders window and parses it (what
/// any pull must do), `orders-pull` is the pass exactly as the binary runs it.
async fn child(what: &str, config: &Path) -> anyhow::Result<()> {
    let started = Instant::now();
    let mut requests = 0u64;
    match what {
        // The bare walk two ways: each record's text checked and kept, as the pull reads
        // pages (`walk`); and each record built into a tree of JSON values, as a client
        // that reads pages as plain JSON would (`walk-values`).
        "walk" | "walk-values" => {
            let ctx = context_from(&std::fs::read_to_string(config)?, config)?;
            let client = ctx.katana().await?;
            let query = vec![
                ("include_deleted", "true".to_string()),
                (
                    "updated_at_max",
                    katana_sync::store::format_ts(jiff::Timestamp::now()),
                ),
            ];
            for n in 1.. {
                let (len, total_pages) = if what == "walk" {
                    let page = client
                        .page_of::<Box<serde_json::value::RawValue>>("/sales_orders", &query, n)
                        .await?;
                    (page.records.len(), page.pagination.total_pages)
                } else {
                    let page = client.page("/sales_orders", &query, n).await?;
                    (page.records.len(), page.pagination.total_pages)
                };
                requests += 1;
                if len == 0 || total_pages.is_some_and(|t| u64::from(n) >= t) {
                    break;
                }
            }
        }
        "orders-pull" => {
            use clap::Parser as _;
            let cli = katana_sync::cli::Cli::try_parse_from([
                "katana-sync",
                "--config",
                &config.display().to_string(),
                "--no-progress",
                "-q",
                "orders",
                "pull",
            ])?;
            katana_sync::commands::run(cli, Mode::Silent).await?;
            requests = 0;
        }
        // What storing the pull's records costs SQLite alone: the orders, rows and
        // adjustments of the pulled store copied into a fresh one with the same schema,
        // pragmas and batch size, no decoding, no judging. A floor under the pull (it
        // also reads the source, so a little above the true one).
        "store-floor" => {
            let cfg = config::from_str(
                &std::fs::read_to_string(config)?,
                config,
                &Overrides::default(),
                &|_| None,
            )?;
            let source = cfg.store.path.clone();
            let floor = source.with_extension("floor.db");
            let conn = rusqlite::Connection::open(&floor)?;
            conn.execute_batch(
                // Foreign keys off: the tables they name are not copied, and the
                // pull's checks cost nothing here (the columns are null while pulling).
                "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA foreign_keys = OFF;
                 PRAGMA cache_size = -16384; PRAGMA wal_autocheckpoint = 8192;",
            )?;
            conn.execute("ATTACH ?1 AS src", [source.display().to_string()])?;
            let schema: Vec<String> = {
                let mut stmt = conn.prepare(
                    "SELECT sql FROM src.sqlite_master WHERE sql IS NOT NULL
                       AND tbl_name IN ('sales_orders', 'sales_order_rows', 'adjustments')
                     ORDER BY type = 'index', name",
                )?;
                stmt.query_map([], |r| r.get(0))?
                    .collect::<Result<_, _>>()?
            };
            for sql in &schema {
                conn.execute_batch(sql)?;
            }
            // Batches of the pull's size in text: about 1,300 orders with their rows
            // and adjustments.
            let orders: i64 =
                conn.query_row("SELECT max(seq) FROM src.sales_orders", [], |r| r.get(0))?;
            let step = 1300;
            for lo in (0..orders).step_by(step) {
                let hi = lo + step as i64;
                conn.execute_batch(&format!(
                    "BEGIN IMMEDIATE;
                     INSERT INTO sales_orders SELECT * FROM src.sales_orders
                       WHERE seq > {lo} AND seq <= {hi};
                     INSERT INTO sales_order_rows SELECT r.* FROM src.sales_order_rows r
                       WHERE r.sales_order_id IN (SELECT id FROM src.sales_orders
                                                  WHERE seq > {lo} AND seq <= {hi})
                       ORDER BY r.seq;
                     INSERT INTO adjustments SELECT a.* FROM src.adjustments a
                       WHERE a.order_id IN (SELECT id FROM src.sales_orders
                                            WHERE seq > {lo} AND seq <= {hi})
                       ORDER BY a.id;
                     COMMIT;"
                ))?;
            }
        }
        "cli" => {
            // Any command line of the binary: `--child cli CONFIG WORDS...`.
            use clap::Parser as _;
            let config = config.display().to_string();
            let mut argv = vec!["katana-sync", "--config", &config, "--no-progress", "-q"];
            let words: Vec<String> = std::env::args().skip(4).collect();
            argv.extend(words.iter().map(String::as_str));
            let cli = katana_sync::cli::Cli::try_parse_from(argv)?;
            katana_sync::commands::run(cli, Mode::Silent).await?;
        }
        other => anyhow::bail!("unknown child {other}"),
    }
    let u = own_usage(started);
    eprintln!(
        "USAGE {} {} {} {requests} {}",
        u.wall.as_millis(),
        u.cpu.as_millis(),
        u.peak_rss_kib,
        u.written
    );
    Ok(())
}

/// Runs a child and reads back what it used.
fn run_child(what: &str, config: &Path) -> anyhow::Result<Usage> {
    run_child_with(what, config, &[])
}

/// Runs the binary's command line `words` in a child process (its stdout is not ours).
fn run_cli(config: &Path, words: &[&str]) -> anyhow::Result<Usage> {
    run_child_with("cli", config, words)
}

fn run_child_with(what: &str, config: &Path, words: &[&str]) -> anyhow::Result<Usage> {
    let exe = std::env::current_exe()?;
    let mut cmd = match std::env::var_os("BENCH_PERF") {
        Some(dir) if what == "orders-pull" => {
            static RUNS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
            let n = RUNS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let data = Path::new(&dir).join(format!("orders-pull-{n}.data"));
            let mut c = std::process::Command::new("perf");
            c.args(["record", "-g", "-q", "-o"]).arg(data).arg(exe);
            c
        }
        _ => std::process::Command::new(exe),
    };
    let out = cmd
        .args(["--child", what])
        .arg(config)
        .args(words)
        .output()?;
    let err = String::from_utf8_lossy(&out.stderr);
    let line = err
        .lines()
        .find_map(|l| l.strip_prefix("USAGE "))
        .ok_or_else(|| anyhow::anyhow!("child {what} reported nothing: {err}"))?;
    let n: Vec<u64> = line.split(' ').map(|f| f.parse().unwrap_or(0)).collect();
    Ok(Usage {
        wall: Duration::from_millis(n[0]),
        cpu: Duration::from_millis(n[1]),
        peak_rss_kib: n[2],
        written: n.get(4).copied().unwrap_or(0),
    })
}

/// One line of the summary table.
struct Line {
    scenario: String,
    requests: String,
    wall: String,
    bound: String,
    result: String,
}

/// The summary table, one line per scenario, printed last.
#[derive(Default)]
struct Summary(Vec<Line>);

impl Summary {
    fn add(
        &mut self,
        scenario: &str,
        requests: impl ToString,
        wall: Duration,
        bound: &str,
        result: &str,
    ) {
        self.0.push(Line {
            scenario: scenario.to_string(),
            requests: requests.to_string(),
            wall: secs(wall),
            bound: bound.to_string(),
            result: result.to_string(),
        });
    }

    fn print(&self) {
        println!("| scenario | requests | wall time | bound or target | result |");
        println!("|---|---|---|---|---|");
        for l in &self.0 {
            println!(
                "| {} | {} | {} | {} | {} |",
                l.scenario, l.requests, l.wall, l.bound, l.result
            );
        }
    }
}

fn secs(d: Duration) -> String {
    if d < Duration::from_secs(1) {
        format!("{} ms", d.as_millis())
    } else {
        format!("{:.1} s", d.as_secs_f64())
    }
}

/// A sandbox of Katana orders and the config of a store beside it.
async fn orders_sandbox(
    dir: &Path,
    name: &str,
    orders: usize,
    rate_limit: u32,
    page_size: u32,
) -> anyhow::Result<(Sandbox, std::path::PathBuf)> {
    let sb = Sandbox::start(
        SandboxOptions {
            orders,
            products: 60,
            customers: 300,
            rate_limit,
            ..SandboxOptions::default()
        },
        "127.0.0.1:0",
    )
    .await?;
    let db = dir.join(format!("{name}.db"));
    let config = dir.join(format!("{name}.toml"));
    let text = config_text(&sb, &db, 1).replace(
        "requests_per_minute = 10000",
        &format!("requests_per_minute = {rate_limit}\npage_size = {page_size}"),
    );
    std::fs::write(&config, text)?;
    Ok((sb, config))
}

fn count(config: &Path, sql: &str) -> anyhow::Result<i64> {
    let db = config.with_extension("db");
    Ok(rusqlite::Connection::open(db)?.query_row(sql, [], |r| r.get(0))?)
}

/// The first pull of a large backlog against its bare walk, then a run with nothing
/// changed; its peak RSS and what it wrote.
async fn orders_table(orders: usize, summary: &mut Summary) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let (sb, config) = orders_sandbox(dir.path(), "orders", orders, 1_000_000, 250).await?;
    println!(
        "katana-sync orders pull benchmark: {orders} orders (pages of 250), rate limit lifted"
    );
    println!();
    println!("| scenario | wall time | CPU (user + sys) | peak RSS | written | Katana requests |");
    println!("|---|---|---|---|---|---|");
    let row = |name: &str, u: Usage, requests: u64| {
        println!(
            "| {name} | {:.1} s | {:.1} s | {:.1} MiB | {:.0} MB | {requests} |",
            u.wall.as_secs_f64(),
            u.cpu.as_secs_f64(),
            u.peak_rss_kib as f64 / 1024.0,
            u.written as f64 / 1e6
        );
    };
    let total = |sb: &Sandbox| sb.stats().katana.total;
    let values = run_child("walk-values", &config)?;
    row(
        "the bare walk, each record parsed into JSON values",
        values,
        total(&sb),
    );
    sb.reset_stats();
    let walk = run_child("walk", &config)?;
    row(
        "the bare walk, each record's text checked and kept (as the pull reads pages)",
        walk,
        total(&sb),
    );
    sb.reset_stats();
    let first = run_child("orders-pull", &config)?;
    let first_requests = total(&sb);
    row(
        "first `orders pull`: stored, judged, adjustments queued",
        first,
        first_requests,
    );
    let floor = run_child("store-floor", &config)?;
    row(
        "the same records stored alone: copied by SQLite into an empty store in batches \
         like the pull's (no decoding, no judging)",
        floor,
        0,
    );
    sb.reset_stats();
    let again = run_child("orders-pull", &config)?;
    let again_requests = total(&sb);
    row(
        "`orders pull` again, nothing changed",
        again,
        again_requests,
    );
    println!();
    println!(
        "(first pull / walk as the pull reads pages: {:.2}× the wall time, {:.2}× the CPU; \
         {:.2}× the CPU of the walk into JSON values)",
        first.wall.as_secs_f64() / walk.wall.as_secs_f64(),
        first.cpu.as_secs_f64() / walk.cpu.as_secs_f64().max(0.001),
        first.cpu.as_secs_f64() / values.cpu.as_secs_f64().max(0.001)
    );
    let over_walk_and_floor =
        first.cpu.as_secs_f64() / (walk.cpu + floor.cpu).as_secs_f64().max(0.001);
    println!(
        "(first pull / (walk as the pull reads pages + the same records stored alone): \
         {over_walk_and_floor:.2}× the CPU)"
    );
    println!(
        "(the pull's CPU beyond the walk and the storing alone, i.e. decoding and judging: \
         {:.1} s, {:.0} % of the pull)",
        (first.cpu.as_secs_f64() - walk.cpu.as_secs_f64() - floor.cpu.as_secs_f64()).max(0.0),
        100.0
            * (first.cpu.as_secs_f64() - walk.cpu.as_secs_f64() - floor.cpu.as_secs_f64()).max(0.0)
            / first.cpu.as_secs_f64().max(0.001)
    );
    println!();
    let records = count(
        &config,
        "SELECT (SELECT count(*) FROM sales_orders) + (SELECT count(*) FROM sales_order_rows)
                + (SELECT count(*) FROM adjustments)",
    )?;
    summary.add(
        &format!("first `orders pull` of {orders} orders, rate limit lifted"),
        first_requests,
        first.wall,
        "peak RSS ≤ 64 MiB",
        &format!(
            "peak RSS {:.1} MiB; CPU {:.1} s: {:.2}× the walk into JSON values ({:.1} s), \
             {:.2}× the walk as the pull reads pages ({:.1} s) plus the same records stored \
             by SQLite alone ({:.1} s); {records} records stored, {:.0} records/s, {:.1} MB/s \
             written",
            first.peak_rss_kib as f64 / 1024.0,
            first.cpu.as_secs_f64(),
            first.cpu.as_secs_f64() / values.cpu.as_secs_f64().max(0.001),
            values.cpu.as_secs_f64(),
            over_walk_and_floor,
            walk.cpu.as_secs_f64(),
            floor.cpu.as_secs_f64(),
            records as f64 / first.wall.as_secs_f64(),
            first.written as f64 / 1e6 / first.wall.as_secs_f64()
        ),
    );
    summary.add(
        "`orders pull` on that store, nothing changed",
        again_requests,
        again.wall,
        "well under 1 s",
        &format!("peak RSS {:.1} MiB", again.peak_rss_kib as f64 / 1024.0),
    );
    sb.shutdown().await;
    Ok(())
}

/// `invoices` for the due orders of a fresh backlog (every open order approved), at
/// the Luca latency of the push scenarios, over 4 sessions: wall time against the bound
/// `Luca requests × latency / sessions`, where the requests are the creates plus the
/// date listings the identity rules need before a first create.
async fn invoices(orders: usize, latency: u64, summary: &mut Summary) -> anyhow::Result<()> {
    const SESSIONS: u64 = 4;
    let dir = tempfile::tempdir()?;
    let sb = Sandbox::start(
        SandboxOptions {
            orders,
            products: 100,
            customers: 200,
            latency_ms: latency,
            bad_records: false,
            rate_limit: 1_000_000,
            faults: "luca.serial=1".parse().expect("faults"),
            ..SandboxOptions::default()
        },
        "127.0.0.1:0",
    )
    .await?;
    let db = dir.path().join("invoices.db");
    let config = dir.path().join("invoices.toml");
    let text = config_text(&sb, &db, SESSIONS as usize)
        .replace(
            "requests_per_minute = 10000",
            "requests_per_minute = 1000000",
        )
        .replace("[mapping]\n", "[sync]\nauto_approve = true\n[mapping]\n")
        + "[mapping.warehouses]\n\"1001\" = \"001\"\n\"1002\" = \"002\"\n\"1003\" = \"001\"\n";
    std::fs::write(&config, text)?;
    for words in [
        &["products", "pull"][..],
        &["products", "push"],
        &["customers", "pull"],
        &["customers", "push"],
        &["orders", "pull"],
    ] {
        run_cli(&config, words)?;
    }
    sb.reset_stats();
    let u = run_cli(&config, &["invoices"])?;
    let stats = sb.stats();
    let invoiced = count(
        &config,
        "SELECT count(*) FROM outbox WHERE kind = 'invoice' AND state = 'done'",
    )?;
    let left = count(
        &config,
        "SELECT count(*) FROM outbox WHERE kind = 'invoice' AND state <> 'done'",
    )?;
    let bound = Duration::from_millis(stats.luca.total * latency / SESSIONS);
    summary.add(
        &format!(
            "`invoices` for {invoiced} due orders ({orders} in Katana), {latency} ms latency, {SESSIONS} sessions"
        ),
        stats.luca.total,
        u.wall,
        &format!("{} (requests × latency / sessions)", secs(bound)),
        &format!(
            "{:.2}× the bound; {} duplicates; {left} not done",
            u.wall.as_secs_f64() / bound.as_secs_f64().max(0.001),
            stats.luca.duplicate_creates.invoice
        ),
    );
    sb.shutdown().await;
    Ok(())
}

/// The 5-minute cron run on open orders with nothing changed, against the earlier
/// integration's way: every open order fetched again each run, 100 a page.
async fn cron_run(orders: usize, summary: &mut Summary) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let (sb, config) = orders_sandbox(dir.path(), "cron", orders, 1_000_000, 250).await?;
    run_child("orders-pull", &config)?;
    let open = count(
        &config,
        "SELECT count(*) FROM sales_orders WHERE status <> 'DELIVERED' AND deleted_at IS NULL",
    )?;
    sb.reset_stats();
    let ours = run_child("orders-pull", &config)?;
    let our_requests = sb.stats().katana.total;
    summary.add(
        &format!("cron run, {orders} orders ({open} open), nothing changed: katana-sync"),
        our_requests,
        ours.wall,
        "2 requests (SPEC: orders and rows)",
        "watermark windows",
    );
    // The earlier integration: `status=NOT_SHIPPED`, no watermark, `limit=100`.
    let text = std::fs::read_to_string(&config)?.replace("page_size = 250", "page_size = 100");
    let ctx = context_from(&text, &config)?;
    let client = ctx.katana().await?;
    sb.reset_stats();
    let started = Instant::now();
    let mut fetched = 0usize;
    for n in 1.. {
        let page = client
            .page("/sales_orders", &[("status", "NOT_SHIPPED".to_string())], n)
            .await?;
        fetched += page.records.len();
        if page.records.len() < 100 {
            break;
        }
    }
    let theirs = started.elapsed();
    summary.add(
        "the same, the earlier integration's way (every open order, `limit=100`)",
        sb.stats().katana.total,
        theirs,
        "",
        &format!("{fetched} orders fetched again every 5 minutes"),
    );
    sb.shutdown().await;
    Ok(())
}

/// A backfill under Katana's documented limit of 60 requests a minute.
async fn backfill_at_60(orders: usize, summary: &mut Summary) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    // Pages of 100, so the backfill needs more than one minute's worth of requests.
    let (sb, config) = orders_sandbox(dir.path(), "backfill", orders, 60, 100).await?;
    let u = run_child("orders-pull", &config)?;
    let stats = sb.stats().katana;
    // At most 60 in any 60 s: request k + 60 goes a minute after request k at the
    // earliest, so N requests need (N - 1) / 60 whole minutes.
    let bound = Duration::from_secs(stats.total.saturating_sub(1) / 60 * 60);
    summary.add(
        &format!("backfill of {orders} orders at 60 requests/minute (pages of 100)"),
        stats.total,
        u.wall,
        &format!(
            "{} (requests beyond the first 60, 1 s each); target ≤ 1.15×, 0 × 429",
            secs(bound)
        ),
        &format!(
            "{:.2}× the bound; {} × 429; at most {} requests in any 60 s",
            u.wall.as_secs_f64() / bound.as_secs_f64().max(0.001),
            stats.rate_limited,
            stats.max_requests_in_60s
        ),
    );
    sb.shutdown().await;
    Ok(())
}

/// A copy of the template store, a fresh simulator, and a push of every card.
async fn push_cards(
    template: &Path,
    dir: &Path,
    name: &str,
    products: usize,
    latency: u64,
    sessions: usize,
    faults: &str,
) -> anyhow::Result<(Sandbox, Ctx, Duration, u64)> {
    let mut options = sandbox_options(products, latency);
    options.faults = faults.parse().map_err(|e| anyhow::anyhow!("faults: {e}"))?;
    let sb = Sandbox::start(options, "127.0.0.1:0").await?;
    let db = dir.join(format!("{name}.db"));
    std::fs::copy(template, &db)?;
    let ctx = context(&sb, &db, sessions).await?;
    let started = Instant::now();
    let mut tally = Tally::default();
    katana_sync::sync::products::push(&ctx, &mut tally, Vec::new()).await?;
    let wall = started.elapsed();
    let stats = sb.stats();
    assert_eq!(stats.luca.duplicate_creates.stock_card, 0);
    Ok((sb, ctx, wall, tally.created))
}

/// `delete-sku` with the id in the store, with one lookup by code, and the earlier
/// integration's way: the whole card listing searched for the code.
async fn delete_sku(
    template: &Path,
    dir: &Path,
    products: usize,
    latency: u64,
    skus: &[String],
    summary: &mut Summary,
) -> anyhow::Result<()> {
    let (sb, ctx, _, _) = push_cards(
        template,
        dir,
        "delete",
        products,
        latency,
        4,
        "luca.serial=1",
    )
    .await?;
    let confirm = |_: &str, _: i64| -> anyhow::Result<bool> { Ok(true) };
    let cards = skus.len();
    let mut delete = async |sku: &str, how: &str| -> anyhow::Result<()> {
        sb.reset_stats();
        let mut tally = Tally::default();
        let mut out = None;
        let started = Instant::now();
        katana_sync::sync::delete_sku::run(&ctx, &mut tally, sku, &confirm, &mut out).await?;
        let wall = started.elapsed();
        let d = out.ok_or_else(|| anyhow::anyhow!("delete-sku reported nothing"))?;
        anyhow::ensure!(d.deleted, "{sku} not deleted: {:?}", tally.errors);
        summary.add(
            &format!("`delete-sku` {how}, {cards} cards in Luca"),
            sb.stats().luca.total,
            wall,
            "",
            &format!("lookup: {}", d.lookup),
        );
        Ok(())
    };
    delete(&skus[0], "with the id in the store").await?;
    ctx.store.conn().execute(
        "UPDATE luca_stock_cards SET skart_id = NULL WHERE sku = ?1",
        [&skus[1]],
    )?;
    delete(&skus[1], "without a stored id").await?;
    // The earlier integration: list every card, find the code, then delete.
    sb.reset_stats();
    let started = Instant::now();
    let http = luca_session(&sb).await?;
    let url = |m: &str| format!("{}/{m}", sb.luca_url());
    let listing: serde_json::Value = http
        .post(url("ListeleStkSkart.do"))
        .header("No-Paging", "true")
        .json(&json!({}))
        .send()
        .await?
        .json()
        .await?;
    let text = listing.to_string();
    anyhow::ensure!(
        text.contains(skus[2].as_str()),
        "the listing lacks {}",
        skus[2]
    );
    summary.add(
        &format!("the earlier integration's way: the whole listing searched, {cards} cards"),
        sb.stats().luca.total,
        started.elapsed(),
        "",
        &format!(
            "{} KB listed to find one id (before the delete)",
            text.len() / 1000
        ),
    );
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("--child") {
        let what = args.get(2).map(String::as_str).unwrap_or_default();
        let config = Path::new(args.get(3).map(String::as_str).unwrap_or_default());
        return child(what, config).await;
    }
    let cards: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(2000);
    let latency: u64 = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(20);
    let orders: usize = args.get(3).and_then(|a| a.parse().ok()).unwrap_or(100_000);
    // The sizes of the fixed scenarios scale with ORDERS, so a small run is quick.
    let scale = |n: usize| (n * orders / 100_000).max(50);
    let mut summary = Summary::default();

    if std::env::var("BENCH_ONLY").as_deref() == Ok("orders") {
        orders_table(orders, &mut summary).await?;
        summary.print();
        return Ok(());
    }

    // The scenarios, in the order of the table. Each is a function of its own; a new
    // one is one more line here. To come at merge:
    cron_run(scale(2_000), &mut summary).await?;
    backfill_at_60(scale(10_000), &mut summary).await?;
    orders_table(orders, &mut summary).await?;
    invoices(scale(1_750), latency, &mut summary).await?;

    // The demo data has 1 to 4 variants a product (about 2.2): generate enough, keep
    // exactly `cards`.
    let products = cards * 3 / 5 + 20;
    let dir = tempfile::tempdir()?;
    let template = dir.path().join("template.db");

    // The store with the Katana side pulled once.
    let skus: Vec<String> = {
        let sb = Sandbox::start(sandbox_options(products, 0), "127.0.0.1:0").await?;
        let ctx = context(&sb, &template, 1).await?;
        let mut tally = Tally::default();
        katana_sync::sync::products::pull(
            &ctx,
            &mut tally,
            katana_sync::sync::products::PullFrom::Both,
        )
        .await?;
        let mut stmt = ctx.store.conn().prepare(
            "SELECT v.sku FROM variants v WHERE v.deleted_at IS NULL AND v.sku IS NOT NULL
             AND v.product_id IS NOT NULL AND v.sku NOT IN (SELECT sku FROM luca_stock_cards)
             ORDER BY v.sku",
        )?;
        let all: Vec<String> = stmt
            .query_map([], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        drop(stmt);
        // Keep exactly `cards` of them: drop the others from the store.
        for extra in &all[cards.min(all.len())..] {
            ctx.store
                .conn()
                .execute("DELETE FROM variants WHERE sku = ?1", [extra])?;
        }
        all.into_iter().take(cards).collect()
    };
    let n = skus.len();
    println!(
        "katana-sync push benchmark: {n} stock cards, {latency} ms sandbox latency, per-session serialisation"
    );
    println!();
    println!(
        "| scenario | sessions | wall time | bound (cards × latency / sessions) | ratio | cards/s |"
    );
    println!("|---|---|---|---|---|---|");
    let push_line = |name: &str, sessions: usize, used: usize, wall: Duration| {
        let bound = Duration::from_millis(latency * n as u64 / used as u64);
        println!(
            "| {name} | {sessions} | {:.2} s | {:.2} s | {:.2}× | {:.0} |",
            wall.as_secs_f64(),
            bound.as_secs_f64(),
            wall.as_secs_f64() / bound.as_secs_f64(),
            n as f64 / wall.as_secs_f64()
        );
        bound
    };
    for sessions in [1usize, 4, 8] {
        let (_sb, _ctx, wall, created) = push_cards(
            &template,
            dir.path(),
            &format!("s{sessions}"),
            products,
            latency,
            sessions,
            "luca.serial=1",
        )
        .await?;
        assert_eq!(created as usize, n, "every card created");
        let bound = push_line("katana-sync products push", sessions, sessions, wall);
        if sessions == 4 {
            summary.add(
                &format!("`products push` of {n} cards, {latency} ms latency, 4 sessions"),
                "",
                wall,
                &secs(bound),
                &format!("{:.2}× the bound", wall.as_secs_f64() / bound.as_secs_f64()),
            );
        }
    }
    {
        // Luca allowing one session per user: the pool learns it and carries on with
        // one, so the bound is that of one session.
        let (sb, _ctx, wall, created) = push_cards(
            &template,
            dir.path(),
            "single",
            products,
            latency,
            4,
            "luca.serial=1,luca.single_login=1",
        )
        .await?;
        assert_eq!(created as usize, n, "every card created");
        let bound = push_line(
            "the same, Luca allowing one session per user (4 configured)",
            4,
            1,
            wall,
        );
        summary.add(
            &format!("`products push` of {n} cards, one session per user allowed (4 configured)"),
            sb.stats().luca.total,
            wall,
            &format!("{} (one session)", secs(bound)),
            &format!(
                "{:.2}× the bound; {} duplicates",
                wall.as_secs_f64() / bound.as_secs_f64(),
                sb.stats().luca.duplicate_creates.stock_card
            ),
        );
    }
    {
        let sb = Sandbox::start(sandbox_options(products, latency), "127.0.0.1:0").await?;
        let wall = one_session_concurrent(&sb, &skus, 10).await?;
        let stats = sb.stats();
        push_line(
            "10 requests in flight on one session (the earlier integration)",
            1,
            1,
            wall,
        );
        println!();
        println!(
            "(one session serialises its requests: {} of the {} requests queued behind another)",
            stats.luca.queued_requests, n
        );
    }
    println!();
    delete_sku(
        &template,
        dir.path(),
        products,
        latency,
        &skus,
        &mut summary,
    )
    .await?;

    println!("katana-sync benchmark table ({orders} orders, {n} cards, {latency} ms Luca latency)");
    println!();
    summary.print();
    Ok(())
}
