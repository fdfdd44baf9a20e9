//! The store's path is handled, not assumed (SPEC section 3, exit 74): what is at the
//! path is checked before anything is opened, created, locked or chmod-ed there, and
//! every problem of the machine or the files gets its own message (path and fix) and
//! exit 74, never 70 "this is a bug".

use std::os::unix::fs::{MetadataExt, PermissionsExt, symlink};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use katana_sync::store::Store;

mod common;

fn bin(dir: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_katana-sync"));
    cmd.current_dir(dir)
        .env_remove("KATANA_SYNC_CONFIG")
        .env_remove("KATANA_SYNC_DB")
        .env_remove("KATANA_API_KEY")
        .env_remove("LUCA_PASSWORD")
        .env_remove("KATANA_SYNC_LOG")
        .stdin(std::process::Stdio::null());
    cmd
}

/// A valid config whose remotes are unreachable: every case below must fail on the
/// store before any request could be sent.
fn config(dir: &Path) -> PathBuf {
    let path = dir.join("sync.toml");
    std::fs::write(
        &path,
        "[katana]\nbase_url = \"http://127.0.0.1:9/v1\"\napi_key = \"k\"\n\
         [luca]\nbase_url = \"http://127.0.0.1:9/Yetki\"\norg_code = \"1\"\nusername = \"u\"\npassword = \"p\"\n",
    )
    .unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    path
}

fn run(dir: &Path, db: &Path, args: &[&str]) -> Output {
    bin(dir)
        .arg("--config")
        .arg(config(dir))
        .arg("--db")
        .arg(db)
        .args(args)
        .output()
        .unwrap()
}

/// Commands that write (and would create or lock the store) and commands that read.
const COMMANDS: [&[&str]; 6] = [
    &["orders", "pull"],
    &["adjustments", "approve", "--all"],
    &["delete-sku", "X-1", "--yes"],
    &["history"],
    &["adjustments", "list"],
    &["products", "push"],
];

fn text(out: &Output) -> String {
    format!(
        "exit {:?}\nstdout: {}\nstderr: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Exit 74, naming the path and a fix, never blaming a bug.
fn assert_store_error(out: &Output, path: &Path, words: &str) {
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(74), "{}", text(out));
    assert!(
        err.contains(&path.display().to_string()),
        "names the path: {err}"
    );
    assert!(err.contains(words), "says {words:?}: {err}");
    assert!(!err.contains("bug"), "not a bug: {err}");
}

/// (mode, size, mtime) of what a path points at, and of the link itself.
fn fingerprint(path: &Path) -> (u32, u64, i64) {
    let m = std::fs::metadata(path).unwrap();
    (m.mode(), m.len(), m.mtime_nsec())
}

/// Names in `dir` other than those given.
fn extra_files(dir: &Path, expected: &[&str]) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| !expected.contains(&n.as_str()))
        .collect()
}

/// The `store` check of a `doctor --json` run.
fn doctor_store_check(out: &Output) -> serde_json::Value {
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    v["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "store")
        .cloned()
        .unwrap_or_else(|| panic!("no store check: {v}"))
}

fn is_root() -> bool {
    std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

/// Sets or clears the immutable flag (root ignores permission bits, not this flag).
fn chattr(flag: &str, path: &Path) -> bool {
    Command::new("chattr")
        .arg(flag)
        .arg(path)
        .status()
        .is_ok_and(|s| s.success())
}

/// Makes `path` unwritable for this process, however privileged: the immutable flag
/// for root, mode bits otherwise. Cleared on drop so the temporary directory goes.
struct ReadOnly(PathBuf, bool);

impl ReadOnly {
    fn new(path: &Path, dir_mode: u32) -> Option<ReadOnly> {
        if is_root() {
            if chattr("+i", path) {
                return Some(ReadOnly(path.to_path_buf(), true));
            }
            eprintln!(
                "SKIPPED: running as root and `chattr +i {}` failed (no CAP_LINUX_IMMUTABLE or a \
                 file system without the flag), so a read-only path cannot be produced here",
                path.display()
            );
            return None;
        }
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(dir_mode)).unwrap();
        Some(ReadOnly(path.to_path_buf(), false))
    }
}

impl Drop for ReadOnly {
    fn drop(&mut self) {
        if self.1 {
            chattr("-i", &self.0);
        } else {
            let _ = std::fs::set_permissions(&self.0, std::fs::Permissions::from_mode(0o755));
        }
    }
}

#[test]
fn a_symlink_to_a_text_file_is_refused_and_its_target_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("notes.txt");
    std::fs::write(&target, "not a database, just notes\n".repeat(20)).unwrap();
    std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o644)).unwrap();
    let link = dir.path().join("store.db");
    symlink(&target, &link).unwrap();
    let before = fingerprint(&target);
    for args in COMMANDS {
        let out = run(dir.path(), &link, args);
        assert_store_error(&out, &link, "not an SQLite database");
    }
    let out = run(dir.path(), &link, &["doctor"]);
    assert_eq!(out.status.code(), Some(74), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("FAIL store"));
    assert_eq!(fingerprint(&target), before, "mode and content unchanged");
    assert_eq!(
        std::fs::read_to_string(&target).unwrap(),
        "not a database, just notes\n".repeat(20)
    );
    assert!(extra_files(dir.path(), &["notes.txt", "store.db", "sync.toml"]).is_empty());
}

#[test]
fn a_dangling_symlink_is_never_followed_to_create_a_store() {
    let dir = tempfile::tempdir().unwrap();
    let link = dir.path().join("store.db");
    symlink(dir.path().join("elsewhere.db"), &link).unwrap();
    for args in COMMANDS {
        let out = run(dir.path(), &link, args);
        assert_store_error(&out, &link, "symbolic link");
    }
    assert!(!dir.path().join("elsewhere.db").exists());
    assert!(extra_files(dir.path(), &["store.db", "sync.toml"]).is_empty());
}

#[test]
fn a_symlink_to_a_store_works_and_its_mode_is_left_as_it_was() {
    let dir = tempfile::tempdir().unwrap();
    let real = dir.path().join("real.db");
    drop(Store::open(&real).unwrap());
    std::fs::set_permissions(&real, std::fs::Permissions::from_mode(0o640)).unwrap();
    let link = dir.path().join("link.db");
    symlink(&real, &link).unwrap();
    let out = run(dir.path(), &link, &["adjustments", "approve", "--all"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let out = run(dir.path(), &link, &["history"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let mode = std::fs::metadata(&real).unwrap().mode() & 0o777;
    assert_eq!(mode, 0o640, "never chmod-ed through the link");
}

#[test]
fn a_directory_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let sub = dir.path().join("data");
    std::fs::create_dir(&sub).unwrap();
    std::fs::set_permissions(&sub, std::fs::Permissions::from_mode(0o755)).unwrap();
    let before = fingerprint(&sub);
    for args in COMMANDS {
        let out = run(dir.path(), &sub, args);
        assert_store_error(&out, &sub, "is a directory");
    }
    assert_eq!(fingerprint(&sub).0, before.0);
    assert!(extra_files(&sub, &[]).is_empty(), "nothing created inside");
    assert!(extra_files(dir.path(), &["data", "sync.toml"]).is_empty());
}

#[test]
fn a_device_node_is_refused_untouched() {
    let dev = Path::new("/dev/null");
    let dir = tempfile::tempdir().unwrap();
    let before = std::fs::metadata(dev).unwrap().mode();
    let beside: Vec<bool> = ["/dev/null.lock", "/dev/null-journal", "/dev/null-wal"]
        .iter()
        .map(|p| Path::new(p).exists())
        .collect();
    for args in COMMANDS {
        let out = run(dir.path(), dev, args);
        assert_store_error(&out, dev, "character device");
    }
    let out = run(dir.path(), dev, &["doctor"]);
    assert_eq!(out.status.code(), Some(74), "{}", text(&out));
    assert_eq!(
        std::fs::metadata(dev).unwrap().mode(),
        before,
        "mode unchanged"
    );
    let after: Vec<bool> = ["/dev/null.lock", "/dev/null-journal", "/dev/null-wal"]
        .iter()
        .map(|p| Path::new(p).exists())
        .collect();
    assert_eq!(after, beside, "nothing created beside /dev/null");
}

#[test]
fn a_named_pipe_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("pipe.db");
    let made = Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(made.success());
    let out = run(dir.path(), &fifo, &["orders", "pull"]);
    assert_store_error(&out, &fifo, "named pipe");
    assert!(extra_files(dir.path(), &["pipe.db", "sync.toml"]).is_empty());
}

#[test]
fn a_missing_directory_is_not_created() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("nonexistent/dir/x.db");
    let out = run(dir.path(), &db, &["orders", "pull"]);
    assert_store_error(&out, &db, "mkdir -p");
    assert!(!dir.path().join("nonexistent").exists());
}

#[test]
fn a_new_store_is_created_0600_and_an_existing_ones_mode_is_kept() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("new.db");
    let out = run(dir.path(), &db, &["adjustments", "approve", "--all"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(std::fs::metadata(&db).unwrap().mode() & 0o777, 0o600);
    // The operator's choice for an existing store stands (e.g. a group that backs it up).
    std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o640)).unwrap();
    let out = run(dir.path(), &db, &["adjustments", "approve", "--all"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(std::fs::metadata(&db).unwrap().mode() & 0o777, 0o640);
}

#[test]
fn a_read_only_store_file_exits_74_and_doctor_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("ro.db");
    drop(Store::open(&db).unwrap());
    let Some(_ro) = ReadOnly::new(&db, 0o444) else {
        return;
    };
    let before = fingerprint(&db);
    for args in [
        &["orders", "pull"][..],
        &["adjustments", "approve", "--all"],
        &["delete-sku", "X-1", "--yes"],
    ] {
        let out = run(dir.path(), &db, args);
        assert_store_error(&out, &db, "cannot be opened for writing");
    }
    let out = run(dir.path(), &db, &["doctor", "--json"]);
    let store = doctor_store_check(&out);
    assert_eq!(store["ok"], false, "doctor must not say ok: {store}");
    assert!(
        store["message"].as_str().unwrap().contains("writing"),
        "{store}"
    );
    assert_eq!(out.status.code(), Some(74));
    assert_eq!(fingerprint(&db), before);
}

#[test]
fn a_store_directory_without_write_permission_exits_74() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir(&data).unwrap();
    let existing = data.join("old.db");
    drop(Store::open(&existing).unwrap());
    // The WAL files go when the store closes cleanly: a run must create them (and the
    // lock file) again, in a directory it cannot write.
    for f in ["old.db-wal", "old.db-shm"] {
        let _ = std::fs::remove_file(data.join(f));
    }
    let Some(_ro) = ReadOnly::new(&data, 0o555) else {
        return;
    };
    let fresh = data.join("new.db");
    let out = run(dir.path(), &fresh, &["orders", "pull"]);
    assert_store_error(&out, &fresh, "is not writable");
    let out = run(dir.path(), &existing, &["orders", "pull"]);
    assert_store_error(&out, &existing, "is not writable");
    let out = run(dir.path(), &existing, &["doctor"]);
    assert_eq!(out.status.code(), Some(74), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("not writable"),
        "{}",
        text(&out)
    );
    assert!(!fresh.exists());
}

#[test]
fn a_file_that_is_not_a_database_and_a_truncated_store_exit_74() {
    let dir = tempfile::tempdir().unwrap();
    let junk = dir.path().join("junk.db");
    std::fs::write(
        &junk,
        b"PK\x03\x04 this is a zip file, not a store".repeat(100),
    )
    .unwrap();
    for args in COMMANDS {
        assert_store_error(
            &run(dir.path(), &junk, args),
            &junk,
            "not an SQLite database",
        );
    }

    let db = dir.path().join("cut.db");
    {
        let store = Store::open(&db).unwrap();
        // Enough rows for many pages, checkpointed into the file.
        store
            .conn()
            .execute_batch(
                "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 3000)
                 INSERT INTO quarantine (entity, key, reason, first_seen, last_seen)
                 SELECT 'x', 'key-' || i, printf('%.200c', 'r'), 'a', 'b' FROM n;
                 PRAGMA wal_checkpoint(TRUNCATE);",
            )
            .unwrap();
    }
    let len = std::fs::metadata(&db).unwrap().len();
    assert!(len > 100_000, "{len}");
    for f in ["cut.db-wal", "cut.db-shm"] {
        let _ = std::fs::remove_file(dir.path().join(f));
    }
    let file = std::fs::OpenOptions::new().write(true).open(&db).unwrap();
    file.set_len(len / 2).unwrap();
    drop(file);
    for args in COMMANDS {
        assert_store_error(&run(dir.path(), &db, args), &db, "truncated");
    }
    let out = run(dir.path(), &db, &["doctor"]);
    assert_eq!(out.status.code(), Some(74), "{}", text(&out));

    // Shorter than SQLite's own header.
    let stub = dir.path().join("stub.db");
    std::fs::write(&stub, b"SQLite format 3\0short").unwrap();
    let out = run(dir.path(), &stub, &["orders", "pull"]);
    assert_eq!(out.status.code(), Some(74), "{}", text(&out));
    assert!(!String::from_utf8_lossy(&out.stderr).contains("bug"));
}

#[test]
fn an_unknown_schema_version_is_refused_and_no_migration_runs_on_it() {
    let dir = tempfile::tempdir().unwrap();
    // Someone else's SQLite database: version 0, with tables of its own.
    let foreign = dir.path().join("foreign.db");
    let c = rusqlite::Connection::open(&foreign).unwrap();
    c.execute_batch(
        "CREATE TABLE runs (x); CREATE TABLE invoices (y); INSERT INTO runs VALUES (1);",
    )
    .unwrap();
    drop(c);
    for args in COMMANDS {
        let out = run(dir.path(), &foreign, args);
        assert_store_error(&out, &foreign, "not a katana-sync store");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!err.contains("CREATE TABLE"), "no SQL printed: {err}");
    }
    let c = rusqlite::Connection::open(&foreign).unwrap();
    let tables: i64 = c
        .query_row(
            "SELECT count(*) FROM sqlite_master WHERE type = 'table'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(tables, 2, "untouched");
    drop(c);

    let negative = dir.path().join("negative.db");
    drop(Store::open(&negative).unwrap());
    let c = rusqlite::Connection::open(&negative).unwrap();
    c.pragma_update(None, "user_version", -1).unwrap();
    drop(c);
    for args in COMMANDS {
        assert_store_error(
            &run(dir.path(), &negative, args),
            &negative,
            "schema version -1",
        );
    }
    let out = run(dir.path(), &negative, &["doctor"]);
    assert_eq!(out.status.code(), Some(74), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("schema version -1"));
}

/// Writes `sql` into the store at `db` as a hand edit (or a newer binary) would.
fn edit_store(db: &Path, sql: &str) {
    rusqlite::Connection::open(db)
        .unwrap()
        .execute_batch(sql)
        .unwrap();
}

/// Exit 74 naming the table, the row, the value and the fix: an unknown stored value is
/// never guessed (SPEC section 3), nor blamed on a bug.
fn assert_unknown_stored(out: &Output, words: &str) {
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(74), "{}", text(out));
    assert!(err.contains(words), "says {words:?}: {err}");
    assert!(
        err.contains("newer katana-sync") && err.contains("restore a valid value"),
        "says the fix: {err}"
    );
    assert!(!err.contains("bug"), "not a bug: {err}");
}

/// An entity this binary does not know, in a run's stored report (`runs.extra_json`) or
/// among its errors (`run_errors`), stops `history`: never shown under another name.
#[test]
fn an_unknown_entity_in_a_stored_run_fails_closed() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("s.db");
    drop(Store::open(&db).unwrap());
    edit_store(
        &db,
        r#"INSERT INTO runs (id, sync_type, status, started_at, finished_at, extra_json)
           VALUES (1, 'orders_pull', 'partial', '2026-11-28T10:00:00.000Z',
                   '2026-11-28T10:00:01.000Z',
                   '{"held":1,"held_records":[{"entity":"gadget","key":"G-1","reason":"r","since":"t"}]}');"#,
    );
    for args in [&["history"][..], &["history", "--json"]] {
        let out = run(dir.path(), &db, args);
        assert_unknown_stored(&out, "runs row 1 has extra_json");
        assert!(String::from_utf8_lossy(&out.stderr).contains("gadget"));
    }

    edit_store(
        &db,
        "UPDATE runs SET extra_json = NULL;
         INSERT INTO run_errors (run_id, seq, entity, key, reason)
         VALUES (1, 0, 'sales_order', 'SO-1', 'r'), (1, 1, 'gadget', 'G-1', 'r');",
    );
    for args in [&["history"][..], &["history", "--json"]] {
        assert_unknown_stored(
            &run(dir.path(), &db, args),
            "run_errors row 2 has entity \"gadget\"",
        );
    }
    // Restored, history reads it again.
    edit_store(
        &db,
        "UPDATE run_errors SET entity = 'sku' WHERE entity = 'gadget'",
    );
    let out = run(dir.path(), &db, &["history"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("sku G-1: r"));
}

/// A record held under an entity this binary does not know (`quarantine.entity`) stops
/// the pass that reports held records, rather than dropping out of every report.
#[test]
fn an_unknown_entity_in_the_quarantine_fails_closed() {
    use common::{Env, Tool, clean};
    let env = Env::new(clean(3, 2, 2), Tool::default());
    drop(Store::open(&env.db()).unwrap());
    edit_store(
        &env.db(),
        "INSERT INTO quarantine (entity, key, reason, first_seen, last_seen)
         VALUES ('sales_order', 'SO-9', 'r', 't', 't'), ('gadget', 'G-1', 'r', 't', 't');",
    );
    for args in [&["orders", "pull"][..], &["--json", "orders", "pull"]] {
        assert_unknown_stored(&env.run(args), "quarantine row 2 has entity \"gadget\"");
    }
    // Restored (a known entity, or released), the pass runs again.
    edit_store(
        &env.db(),
        "UPDATE quarantine SET resolved_at = 't' WHERE entity = 'gadget'",
    );
    let out = env.run(&["orders", "pull"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("sales_order SO-9: r (since t)"),
        "{}",
        text(&out)
    );
}

#[test]
fn doctor_creates_no_store_and_says_the_first_pass_will() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("fresh.db");
    let out = run(dir.path(), &db, &["doctor", "--json"]);
    let store = doctor_store_check(&out);
    assert_eq!(store["ok"], true, "{store}");
    assert!(
        store["message"]
            .as_str()
            .unwrap()
            .contains("first pass creates it")
    );
    assert!(
        extra_files(dir.path(), &["sync.toml"]).is_empty(),
        "nothing created"
    );
}

#[test]
fn sandbox_serve_on_a_busy_port_or_a_bad_address_exits_78() {
    let dir = tempfile::tempdir().unwrap();
    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = busy.local_addr().unwrap().to_string();
    let out = bin(dir.path())
        .args(["sandbox", "serve", "--addr", &addr])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(78), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&addr) && err.contains("in use"), "{err}");
    assert!(!err.contains("bug"));
    let out = bin(dir.path())
        .args(["sandbox", "serve", "--addr", "not-an-address"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(78), "{}", text(&out));
}

#[test]
fn an_out_of_range_config_value_exits_78_naming_key_and_file() {
    let dir = tempfile::tempdir().unwrap();
    for (text_, key) in [
        (
            "[sync]\nlookback_minutes = 9223372036854775807\n",
            "sync.lookback_minutes",
        ),
        (
            "[mapping]\ndefault_unit_id = -1\n",
            "mapping.default_unit_id",
        ),
        ("[mapping.units]\npcs = -5\n", "mapping.units.pcs"),
        ("[mapping.units]\nkg = 0\n", "mapping.units.kg"),
        (
            "[mapping]\ncustomer_code_prefix = \"KŁ\"\n",
            "mapping.customer_code_prefix",
        ),
        (
            "[mapping]\ninvoice_doc_type = -76\n",
            "mapping.invoice_doc_type",
        ),
        ("[mapping]\ncategory_code = \"\"\n", "mapping.category_code"),
    ] {
        let cfg = dir.path().join("bad.toml");
        std::fs::write(&cfg, text_).unwrap();
        let out = bin(dir.path())
            .args(["orders", "pull", "--config"])
            .arg(&cfg)
            .args(["--db", "s.db"])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(78), "{text_}: {}", text(&out));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(key) && err.contains("bad.toml"), "{err}");
        assert!(
            !dir.path().join("s.db").exists(),
            "refused before the store"
        );
    }
}

#[test]
fn a_full_disk_in_the_middle_of_a_pass_exits_74_and_loses_nothing() {
    use common::{Env, Tool, clean};
    let env = Env::new(clean(300, 5, 20), Tool::default());
    // A file size limit stands in for a full disk: SQLite's writes past it fail (the
    // signal that would kill the process instead is ignored, which exec keeps).
    let limited = |blocks: u32| {
        let mut cmd = Command::new("sh");
        cmd.arg("-c")
            .arg(format!(
                "trap '' XFSZ; ulimit -f {blocks}; exec \"$0\" \"$@\""
            ))
            .arg(env!("CARGO_BIN_EXE_katana-sync"))
            .arg("--config")
            .arg(env.config_path())
            .args(["--no-progress", "orders", "pull"])
            .current_dir(env.dir.path())
            .env("KATANA_API_KEY", "sandbox-key")
            .env("LUCA_PASSWORD", "sandbox")
            .env_remove("KATANA_SYNC_DB")
            .env_remove("KATANA_SYNC_CONFIG")
            .env_remove("KATANA_SYNC_LOG");
        cmd.output().unwrap()
    };
    // Enough for the schema, not for 300 orders with their rows.
    let out = limited(1000);
    // Past the migration, in the middle of the pass's writes.
    assert_store_error(&out, &env.db(), "cannot be written");
    let out = env.run(&["--json", "orders", "pull"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(env.count("SELECT count(*) FROM sales_orders"), 300);
    assert_eq!(common::integrity(&env.db()), "ok");
}
