//! The benchmark table. Not a test: it measures, on this machine, how fast the push
//! pipeline creates stock cards against the sandbox with per-session serialisation,
//! compared with the bound `cards × latency / sessions`.
//!
//!     cargo run --release --example bench [-- CARDS LATENCY_MS]
//!
//! Each scenario gets a fresh simulator (same seed) and a fresh copy of a store that
//! already holds the Katana products, so only the push is timed.

use std::path::Path;
use std::time::{Duration, Instant};

use futures::StreamExt as _;
use katana_sync::cli::GlobalOpts;
use katana_sync::config::{self, Overrides};
use katana_sync::context::{Ctx, Needs};
use katana_sync::progress::Mode;
use katana_sync::report::Tally;
use katana_sync::sandbox::{Sandbox, SandboxOptions};
use serde_json::json;

fn opts() -> GlobalOpts {
    GlobalOpts {
        config: None,
        db: None,
        dry_run: false,
        json: false,
        quiet: 1,
        verbose: 0,
        no_progress: true,
        sandbox: false,
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
    let text = config_text(sb, db, sessions);
    let cfg = config::from_str(
        &text,
        Path::new("bench.toml"),
        &Overrides::default(),
        &|_| None,
    )?;
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

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let cards: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(2000);
    let latency: u64 = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(20);
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
        katana_sync::sync::products::pull(&ctx, &mut tally, katana_sync::cli::PullFrom::Both)
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
