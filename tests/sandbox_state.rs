//! Determinism, the state file, the control endpoints and `sandbox serve`.

mod common;

use std::io::Write;
use std::sync::mpsc;
use std::time::Duration;

use clap::Parser;
use common::sandbox::*;
use katana_sync::cli::{Cli, Command, SandboxCmd};
use katana_sync::sandbox::{SandboxOptions, Stats};
use serde_json::{Value, json};

#[tokio::test]
async fn the_same_seed_gives_the_same_data() {
    let a = start(small()).await;
    let b = start(small()).await;
    let c = start(SandboxOptions { seed: 7, ..small() }).await;
    let (ka, kb, kc) = (
        a.with_katana(|k| k.clone()),
        b.with_katana(|k| k.clone()),
        c.with_katana(|k| k.clone()),
    );
    assert_eq!(ka, kb);
    assert_ne!(ka, kc);
    assert_eq!(a.with_luca(|l| l.clone()), b.with_luca(|l| l.clone()));
    // Byte for byte over the wire as well.
    for path in [
        "/customers?limit=250",
        "/products",
        "/sales_orders?limit=100",
    ] {
        let ta = katana(&a, path).await.text().await.expect("text");
        let tb = katana(&b, path).await.text().await.expect("text");
        assert_eq!(ta, tb, "{path}");
    }
    // Seeded data is dated before the base, never by the wall clock.
    let base: jiff::Timestamp = katana_sync::sandbox::data::BASE.parse().expect("base");
    assert!(ka.sales_orders.values().all(|o| o.updated_at <= base));
    for sb in [a, b, c] {
        sb.shutdown().await;
    }
}

#[tokio::test]
async fn the_state_file_carries_the_remote_across_runs() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("remote.sandbox.json");
    let opts = SandboxOptions {
        state_file: Some(file.clone()),
        ..small()
    };
    let first = start(opts.clone()).await;
    assert!(file.exists(), "written at start");
    let c = luca_session(&first).await;
    let made = luca(
        &c,
        &first,
        "EkleStkWsSkart.do",
        &card("KALICI-1", "Kalıcı Kart Ş"),
    )
    .await;
    assert_eq!(made["error"], false);
    let order = first.with_katana(|k| {
        let id = *k.sales_orders.keys().next().expect("an order");
        k.delete_sales_order(id);
        id
    });
    let (katana_before, luca_before) = (
        first.with_katana(|k| k.clone()),
        first.with_luca(|l| l.clone()),
    );
    first.shutdown().await;

    // Another seed: the file wins over generation.
    let second = start(SandboxOptions { seed: 99, ..opts }).await;
    assert_eq!(second.with_katana(|k| k.clone()), katana_before);
    assert_eq!(second.with_luca(|l| l.clone()), luca_before);
    assert!(second.with_katana(|k| k.sales_orders[&order].deleted_at.is_some()));
    let c = luca_session(&second).await;
    let dup = luca(&c, &second, "EkleStkWsSkart.do", &card("KALICI-1", "x")).await;
    assert_eq!(dup["message"], "Kart kodu daha önce kullanılmış");
    let next = luca(&c, &second, "EkleStkWsSkart.do", &card("KALICI-2", "y")).await;
    assert!(
        next["skartId"].as_i64() > made["skartId"].as_i64(),
        "ids carry on"
    );
    second.shutdown().await;

    std::fs::write(&file, "not json").expect("write");
    let err = katana_sync::sandbox::Sandbox::start(
        SandboxOptions {
            state_file: Some(file.clone()),
            ..small()
        },
        "127.0.0.1:0",
    )
    .await
    .err()
    .expect("a broken state file is refused");
    assert!(err.to_string().contains("remote.sandbox.json"), "{err}");
}

#[tokio::test]
async fn control_endpoints() {
    let sb = start(small()).await;
    let http = client();
    let base = format!("http://{}", sb.addr());
    katana(&sb, "/locations").await;
    let raw: Value = http
        .get(format!("{base}/_sandbox/stats"))
        .send()
        .await
        .expect("stats")
        .json()
        .await
        .expect("json");
    let stats: Stats = serde_json::from_value(raw.clone()).expect("the Stats shape");
    assert_eq!(stats, sb.stats());
    assert_eq!(stats.requests["GET /v1/locations"], 1);
    for key in [
        "stock_card",
        "customer",
        "supplier",
        "warehouse",
        "invoice",
        "despatch",
        "stock_slip",
    ] {
        assert_eq!(raw["luca"]["creates"][key], 0, "{key} always reported");
    }

    let bad = http
        .post(format!("{base}/_sandbox/faults"))
        .body("lost=0.5,katana.lost=0.1")
        .send()
        .await
        .expect("answer");
    assert_eq!(bad.status(), 400);
    assert!(bad.text().await.expect("text").contains("katana.lost"));
    let good = http
        .post(format!("{base}/_sandbox/faults"))
        .body("luca.lookup_fail=error")
        .send()
        .await
        .expect("answer");
    assert_eq!(good.status(), 200);
    assert_eq!(good.text().await.expect("text"), "luca.lookup_fail=error");
    let c = luca_session(&sb).await;
    let r = luca(&c, &sb, "ListeleStkDepo.do", &json!({})).await;
    assert_eq!(r, json!({"error": true}));

    let reset = http
        .post(format!("{base}/_sandbox/stats/reset"))
        .send()
        .await
        .expect("answer");
    assert!(reset.status().is_success());
    assert_eq!(sb.stats(), Stats::default());
    sb.shutdown().await;
}

/// Forwards every write to a channel, so the test reads `serve`'s output while it runs.
struct Lines(mpsc::Sender<Vec<u8>>);

impl Write for Lines {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let _ = self.0.send(buf.to_vec());
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn serve_prints_the_two_urls_first() {
    let cli = Cli::try_parse_from([
        "katana-sync",
        "sandbox",
        "serve",
        "--addr",
        "127.0.0.1:0",
        "--orders",
        "10",
        "--faults",
        "luca.serial=1",
    ])
    .expect("arguments parse");
    let Command::Sandbox(SandboxCmd::Serve(args)) = cli.command else {
        panic!("sandbox serve");
    };
    let (tx, rx) = mpsc::channel();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(async move {
        let mut out = Lines(tx);
        let opts = args.options().expect("options");
        katana_sync::sandbox::serve_with(opts, &args.addr, &mut out, async {
            let _ = stopped.await;
        })
        .await
    });
    let text = tokio::task::spawn_blocking(move || {
        let mut text = String::new();
        while text.matches('\n').count() < 2 {
            let chunk = rx.recv_timeout(Duration::from_secs(20))?;
            text.push_str(&String::from_utf8_lossy(&chunk));
        }
        Ok::<_, mpsc::RecvTimeoutError>(text)
    })
    .await
    .expect("join")
    .expect("two lines within 20 s");
    let lines: Vec<&str> = text.lines().collect();
    let katana_url = lines[0]
        .strip_prefix("katana: http://")
        .expect("katana line");
    let addr = katana_url.strip_suffix("/v1").expect("ends in /v1");
    assert_eq!(lines[1], format!("luca: http://{addr}/Yetki"));
    assert!(!addr.ends_with(":0"), "the real port: {addr}");
    let faults = client()
        .get(format!("http://{addr}/_sandbox/faults"))
        .send()
        .await
        .expect("answer")
        .text()
        .await
        .expect("text");
    assert_eq!(faults, "luca.serial=1");
    let _ = stop.send(());
    server.await.expect("join").expect("serve ends cleanly");

    let bad = Cli::try_parse_from(["katana-sync", "sandbox", "serve", "--faults", "warp=9"])
        .expect_err("a bad fault spec is a usage error");
    assert!(bad.to_string().contains("warp"), "{bad}");
}
