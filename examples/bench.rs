//! The benchmark table. Not a test: it measures, on this machine,
//! - the first `orders pull` of a large backlog (the sandbox's rate limit lifted): its
//!   wall time and CPU against those of the bare walk of the same pages, its peak RSS,
//!   and then a run with nothing changed on that store;
//! - how fast the push pipeline creates stock cards against the sandbox with
//!   per-session serialisation, compared with the bound `cards × latency / sessions`.
//!
//!     cargo run --release --example bench [-- CARDS LATENCY_MS ORDERS]
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

/// How the earlier integration pushed: one session, many requests in flight on it.
async fn one_session_concurrent(
    sb: &Sandbox,
    skus: &[String],
    in_flight: usize,
) -> anyhow::Result<Duration> {
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
    Usage {
        wall: started.elapsed(),
        cpu: Duration::from_millis(ticks * 1000 / per_sec.max(1)),
        peak_rss_kib,
    }
}

/// A child's work: `walk` reads every page of the orders window and parses it (what
/// any pull must do), `orders-pull` is the pass exactly as the binary runs it.
async fn child(what: &str, config: &Path) -> anyhow::Result<()> {
    let started = Instant::now();
    let mut requests = 0u64;
    match what {
        "walk" => {
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
                let page = client.page("/sales_orders", &query, n).await?;
                requests += 1;
                if page.records.is_empty()
                    || page
                        .pagination
                        .total_pages
                        .is_some_and(|t| u64::from(n) >= t)
                {
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
        other => anyhow::bail!("unknown child {other}"),
    }
    let u = own_usage(started);
    eprintln!(
        "USAGE {} {} {} {requests}",
        u.wall.as_millis(),
        u.cpu.as_millis(),
        u.peak_rss_kib
    );
    Ok(())
}

/// Runs a child and reads back what it used.
fn run_child(what: &str, config: &Path) -> anyhow::Result<Usage> {
    let out = std::process::Command::new(std::env::current_exe()?)
        .args(["--child", what])
        .arg(config)
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
    })
}

async fn orders_table(orders: usize) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let sb = Sandbox::start(
        SandboxOptions {
            orders,
            products: 60,
            customers: 300,
            rate_limit: 1_000_000,
            ..SandboxOptions::default()
        },
        "127.0.0.1:0",
    )
    .await?;
    let db = dir.path().join("orders.db");
    let config = dir.path().join("bench.toml");
    let text = config_text(&sb, &db, 1).replace(
        "requests_per_minute = 10000",
        "requests_per_minute = 1000000",
    );
    std::fs::write(&config, text)?;
    println!(
        "katana-sync orders pull benchmark: {orders} orders (pages of 250), rate limit lifted"
    );
    println!();
    println!("| scenario | wall time | CPU (user + sys) | peak RSS | Katana requests |");
    println!("|---|---|---|---|---|");
    let row = |name: &str, u: Usage, requests: u64| {
        println!(
            "| {name} | {:.1} s | {:.1} s | {:.1} MiB | {requests} |",
            u.wall.as_secs_f64(),
            u.cpu.as_secs_f64(),
            u.peak_rss_kib as f64 / 1024.0
        );
    };
    let total = |sb: &Sandbox| sb.stats().katana.total;
    let walk = run_child("walk", &config)?;
    row(
        "the bare walk: every page fetched and parsed",
        walk,
        total(&sb),
    );
    sb.reset_stats();
    let first = run_child("orders-pull", &config)?;
    row(
        "first `orders pull`: stored, judged, adjustments queued",
        first,
        total(&sb),
    );
    sb.reset_stats();
    let again = run_child("orders-pull", &config)?;
    row("`orders pull` again, nothing changed", again, total(&sb));
    println!();
    println!(
        "(first pull / walk: {:.2}× the wall time, {:.2}× the CPU)",
        first.wall.as_secs_f64() / walk.wall.as_secs_f64(),
        first.cpu.as_secs_f64() / walk.cpu.as_secs_f64().max(0.001)
    );
    println!();
    sb.shutdown().await;
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
    orders_table(orders).await?;
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
    for sessions in [1usize, 4, 8] {
        let sb = Sandbox::start(sandbox_options(products, latency), "127.0.0.1:0").await?;
        let db = dir.path().join(format!("s{sessions}.db"));
        std::fs::copy(&template, &db)?;
        let ctx = context(&sb, &db, sessions).await?;
        let started = Instant::now();
        let mut tally = Tally::default();
        katana_sync::sync::products::push(&ctx, &mut tally, Vec::new()).await?;
        let wall = started.elapsed();
        assert_eq!(
            tally.created as usize, n,
            "every card created: {:?}",
            tally.errors
        );
        let bound = Duration::from_millis(latency * n as u64 / sessions as u64);
        println!(
            "| katana-sync products push | {sessions} | {:.2} s | {:.2} s | {:.2}× | {:.0} |",
            wall.as_secs_f64(),
            bound.as_secs_f64(),
            wall.as_secs_f64() / bound.as_secs_f64(),
            n as f64 / wall.as_secs_f64()
        );
        let stats = sb.stats();
        assert_eq!(stats.luca.duplicate_creates.stock_card, 0);
    }
    {
        let sb = Sandbox::start(sandbox_options(products, latency), "127.0.0.1:0").await?;
        let wall = one_session_concurrent(&sb, &skus, 10).await?;
        let bound = Duration::from_millis(latency * n as u64);
        let stats = sb.stats();
        println!(
            "| 10 requests in flight on one session (the earlier integration) | 1 | {:.2} s | {:.2} s | {:.2}× | {:.0} |",
            wall.as_secs_f64(),
            bound.as_secs_f64(),
            wall.as_secs_f64() / bound.as_secs_f64(),
            n as f64 / wall.as_secs_f64()
        );
        println!();
        println!(
            "(one session serialises its requests: {} of the {} requests queued behind another)",
            stats.luca.queued_requests, n
        );
    }
    Ok(())
}
