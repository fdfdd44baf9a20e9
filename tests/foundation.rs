//! The binary's foundation, driven through its command line: configuration errors and
//! precedence, migrations, history, exit codes.

use assert_cmd::Command;
use katana_sync::report::{RecordError, Requests, Run, RunStatus, SyncType};
use katana_sync::store::Store;
use predicates::prelude::*;
use serde_json::Value;

fn bin(dir: &std::path::Path) -> Command {
    let mut cmd = Command::cargo_bin("katana-sync").unwrap();
    cmd.current_dir(dir)
        .env_remove("KATANA_SYNC_CONFIG")
        .env_remove("KATANA_SYNC_DB")
        .env_remove("KATANA_API_KEY")
        .env_remove("LUCA_PASSWORD")
        .env_remove("KATANA_SYNC_LOG");
    cmd
}

#[test]
fn the_sample_config_is_valid_and_documents_every_key() {
    let dir = tempfile::tempdir().unwrap();
    let sample = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("sync.toml");
    bin(dir.path())
        .args(["doctor", "--config"])
        .arg(&sample)
        .args(["--db", "x.db"])
        .assert()
        // Valid, but it holds no credentials: the remote checks say which key to set.
        .code(78)
        .stdout(
            predicate::str::contains("is valid")
                .and(predicate::str::contains("katana.api_key"))
                .and(predicate::str::contains("luca.org_code")),
        );
}

#[test]
fn an_invalid_key_exits_78_naming_the_key_and_the_file() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("bad.toml"), "[katana]\npage_size = 900\n").unwrap();
    bin(dir.path())
        .args(["doctor", "--config", "bad.toml"])
        .assert()
        .code(78)
        .stdout(
            predicate::str::contains("katana.page_size").and(predicate::str::contains("bad.toml")),
        );

    std::fs::write(dir.path().join("typo.toml"), "[luca]\npasword = \"x\"\n").unwrap();
    bin(dir.path())
        .args(["doctor", "--config", "typo.toml", "--json"])
        .assert()
        .code(78)
        .stdout(predicate::str::contains("pasword").and(predicate::str::contains("typo.toml")));
}

#[test]
fn a_missing_config_file_is_78_but_history_needs_none() {
    let dir = tempfile::tempdir().unwrap();
    bin(dir.path())
        .arg("doctor")
        .assert()
        .code(78)
        .stdout(predicate::str::contains("sync.toml"));
    drop(Store::open(&dir.path().join("h.db")).unwrap());
    bin(dir.path())
        .args(["history", "--db", "h.db"])
        .assert()
        .success()
        .stdout(predicate::str::contains("no runs"));
}

#[test]
fn history_never_creates_a_store_and_says_there_is_none() {
    let dir = tempfile::tempdir().unwrap();
    for args in [&["history"][..], &["adjustments", "list"]] {
        bin(dir.path())
            .args(args)
            .args(["--db", "absent.db"])
            .assert()
            .code(74)
            .stderr(
                predicate::str::contains("absent.db")
                    .and(predicate::str::contains("no store at this path"))
                    .and(predicate::str::contains("this is a bug").not()),
            );
    }
    let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert!(left.is_empty(), "nothing created: {left:?}");
}

#[test]
fn history_limit_zero_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    drop(Store::open(&dir.path().join("h.db")).unwrap());
    bin(dir.path())
        .args(["history", "--limit", "0", "--db", "h.db"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--limit"));
}

#[test]
fn the_store_path_follows_flag_over_env_over_file() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("sync.toml"),
        "[store]\npath = \"file.db\"\n",
    )
    .unwrap();
    // One store per source, each with one run of its own type: history shows which
    // store it read.
    for (name, ty) in [
        ("file.db", SyncType::OrdersPull),
        ("env.db", SyncType::ProductsPull),
        ("flag.db", SyncType::ProductsPush),
    ] {
        let store = Store::open(&dir.path().join(name)).unwrap();
        store.start_run(ty, "2026-11-28T10:00:00.000Z").unwrap();
    }
    let read = |cmd: &mut Command| -> String {
        let out = cmd.args(["history", "--json"]).output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let v: Value = serde_json::from_slice(&out.stdout).unwrap();
        v["runs"][0]["sync_type"].as_str().unwrap().to_string()
    };
    assert_eq!(read(&mut bin(dir.path())), "orders_pull");
    assert_eq!(
        read(bin(dir.path()).env("KATANA_SYNC_DB", "env.db")),
        "products_pull"
    );
    assert_eq!(
        read(
            bin(dir.path())
                .env("KATANA_SYNC_DB", "env.db")
                .args(["--db", "flag.db"])
        ),
        "products_push"
    );
}

#[test]
fn a_secret_in_a_world_readable_config_gets_a_warning_and_is_never_printed() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("sync.toml");
    std::fs::write(&cfg, "[katana]\napi_key = \"canary-7f3a9\"\n").unwrap();
    std::fs::set_permissions(&cfg, std::fs::Permissions::from_mode(0o644)).unwrap();
    let out = bin(dir.path())
        .args(["doctor", "-vv", "--db", "d.db"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stderr.contains("chmod 600"), "{stderr}");
    assert!(!stderr.contains("canary-7f3a9") && !stdout.contains("canary-7f3a9"));
    assert!(
        stdout.contains("the config file"),
        "says where the key comes from: {stdout}"
    );
}

#[test]
fn a_store_from_a_newer_binary_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("s.db");
    drop(Store::open(&db).unwrap());
    let conn = rusqlite::Connection::open(&db).unwrap();
    conn.pragma_update(None, "user_version", 999).unwrap();
    drop(conn);
    bin(dir.path())
        .args(["history", "--db"])
        .arg(&db)
        .assert()
        .code(78)
        .stderr(predicate::str::contains("newer"));
}

#[test]
fn history_json_has_the_spec_shape_newest_first() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("h.db");
    let store = Store::open(&db).unwrap();
    for (i, (ty, status)) in [
        (SyncType::OrdersPull, RunStatus::Ok),
        (SyncType::ProductsPush, RunStatus::Partial),
        (SyncType::OrdersPull, RunStatus::DryRun),
    ]
    .into_iter()
    .enumerate()
    {
        let started = format!("2026-11-28T10:00:0{i}.000Z");
        let id = store.start_run(ty, &started).unwrap();
        let mut run = Run {
            run_id: id,
            sync_type: ty,
            status,
            started_at: started,
            finished_at: Some(format!("2026-11-28T10:00:0{}.500Z", i)),
            processed: 120,
            created: 4,
            updated: 10,
            skipped: 106,
            failed: 0,
            requests: Requests { katana: 2, luca: 0 },
            errors: vec![],
            message: None,
            extra: Default::default(),
        };
        if status == RunStatus::Partial {
            run.failed = 1;
            run.errors.push(RecordError {
                entity: katana_sync::entity::Entity::SalesOrder,
                key: "SO-1042".into(),
                reason: "unmapped tax rate 7".into(),
            });
        }
        store.finish_run(&run).unwrap();
    }
    drop(store);

    let out = bin(dir.path())
        .args(["history", "--json", "--db"])
        .arg(&db)
        .output()
        .unwrap();
    assert!(out.status.success());
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let runs = v["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 3);
    assert_eq!(runs[0]["status"], "dry_run");
    assert_eq!(runs[1]["sync_type"], "products_push");
    assert_eq!(runs[1]["errors"][0]["reason"], "unmapped tax rate 7");
    for r in runs {
        for key in [
            "run_id",
            "sync_type",
            "status",
            "started_at",
            "finished_at",
            "processed",
            "created",
            "updated",
            "skipped",
            "failed",
            "requests",
            "errors",
        ] {
            assert!(r.get(key).is_some(), "{key} missing in {r}");
        }
        assert!(r["requests"]["katana"].is_u64() && r["requests"]["luca"].is_u64());
        assert!(r["started_at"].as_str().unwrap().ends_with('Z'));
    }

    let out = bin(dir.path())
        .args([
            "history",
            "--json",
            "--type",
            "orders_pull",
            "--limit",
            "1",
            "--db",
        ])
        .arg(&db)
        .output()
        .unwrap();
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["runs"].as_array().unwrap().len(), 1);
    assert_eq!(v["runs"][0]["sync_type"], "orders_pull");

    bin(dir.path())
        .args(["history", "--type", "bogus", "--db"])
        .arg(&db)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("orders_pull"));
}

#[test]
fn usage_errors_exit_2_and_completions_print() {
    let dir = tempfile::tempdir().unwrap();
    bin(dir.path()).arg("frobnicate").assert().code(2);
    bin(dir.path())
        .args(["completions", "bash"])
        .assert()
        .success()
        .stdout(predicate::str::contains("katana-sync"));
}
