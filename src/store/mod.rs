//! The SQLite store: opening (pragmas, migrations), the write-transaction helper, and
//! one file per table group.
//!
//! Every write runs in `BEGIN IMMEDIATE` (a writer never meets SQLITE_BUSY halfway
//! through) and no transaction is ever held across an HTTP call.

pub mod adjustments;
pub mod catalog;
pub mod lock;
pub mod luca_findings;
pub mod luca_ids;
pub mod orders;
pub mod outbox;
pub mod quarantine;
pub mod runs;
pub mod watermarks;

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use rusqlite::{Connection, Transaction, TransactionBehavior};

use crate::error::Error;

/// The embedded migrations, in order, each with the version it brings the store to (its
/// file number; numbers may skip one reserved for a migration not merged yet).
const MIGRATIONS: &[(i64, &str)] = &[
    (1, include_str!("../../sql/0001_init.sql")),
    (3, include_str!("../../sql/0003_luca_findings.sql")),
];

/// The schema version this binary writes.
pub const SCHEMA_VERSION: i64 = MIGRATIONS[MIGRATIONS.len() - 1].0;

pub struct Store {
    conn: Connection,
    path: PathBuf,
}

impl Store {
    /// Opens (creating if needed) the store at `path` and brings its schema up to date.
    /// A store written by a newer binary is refused.
    pub fn open(path: &Path) -> anyhow::Result<Store> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("creating the store's directory {}", dir.display()))?;
        }
        let conn = Connection::open(path)
            .with_context(|| format!("opening the store {}", path.display()))?;
        restrict_permissions(path);
        // synchronous=FULL: an intent row committed before a Luca call must survive a
        // power loss, or a create could be sent twice.
        conn.execute_batch(
            "PRAGMA journal_mode = WAL;
             PRAGMA synchronous = FULL;
             PRAGMA foreign_keys = ON;
             PRAGMA busy_timeout = 5000;
             PRAGMA journal_size_limit = 67108864;",
        )
        .with_context(|| format!("setting up the store {}", path.display()))?;
        let store = Store {
            conn,
            path: path.to_path_buf(),
        };
        store.migrate()?;
        Ok(store)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn conn(&self) -> &Connection {
        &self.conn
    }

    /// Runs `f` in one `BEGIN IMMEDIATE` transaction, committed when `f` succeeds and
    /// rolled back when it fails. Inside an open transaction (a dry run) it nests as a
    /// savepoint.
    pub fn write<T>(&self, f: impl FnOnce(&Connection) -> anyhow::Result<T>) -> anyhow::Result<T> {
        if !self.conn.is_autocommit() {
            self.conn.execute_batch("SAVEPOINT write")?;
            return match f(&self.conn) {
                Ok(v) => {
                    self.conn.execute_batch("RELEASE write")?;
                    Ok(v)
                }
                Err(e) => {
                    self.conn
                        .execute_batch("ROLLBACK TO write; RELEASE write")?;
                    Err(e)
                }
            };
        }
        let tx = Transaction::new_unchecked(&self.conn, TransactionBehavior::Immediate)
            .context("starting a store transaction")?;
        let value = f(&tx)?;
        tx.commit().context("committing to the store")?;
        Ok(value)
    }

    /// Starts a dry run: everything the pass writes from here on is rolled back by
    /// [`Store::end_dry_run`], so a dry run computes exactly what a real run would.
    pub fn begin_dry_run(&self) -> anyhow::Result<()> {
        self.conn.execute_batch("BEGIN IMMEDIATE")?;
        Ok(())
    }

    pub fn end_dry_run(&self) -> anyhow::Result<()> {
        if !self.conn.is_autocommit() {
            self.conn.execute_batch("ROLLBACK")?;
        }
        Ok(())
    }

    pub fn schema_version(&self) -> anyhow::Result<i64> {
        Ok(self
            .conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))?)
    }

    /// `PRAGMA integrity_check`: "ok", or the problems found.
    pub fn integrity_check(&self) -> anyhow::Result<String> {
        let mut stmt = self.conn.prepare("PRAGMA integrity_check")?;
        let lines: Vec<String> = stmt
            .query_map([], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        Ok(lines.join("; "))
    }

    fn migrate(&self) -> anyhow::Result<()> {
        let current = self.schema_version()?;
        if current > SCHEMA_VERSION {
            return Err(Error::config(format!(
                "the store {} has schema version {current}, newer than this katana-sync \
                 understands ({SCHEMA_VERSION}); run the newer katana-sync that wrote it, \
                 or point --db at another store",
                self.path.display()
            ))
            .into());
        }
        for &(version, sql) in MIGRATIONS.iter().filter(|(v, _)| *v > current) {
            self.write(|tx| {
                tx.execute_batch(sql)
                    .with_context(|| format!("applying migration {version:04}"))?;
                tx.pragma_update(None, "user_version", version)?;
                Ok(())
            })?;
            tracing::debug!(version, "store migrated");
        }
        Ok(())
    }
}

/// The store holds customer names and tax numbers: keep it to its owner.
fn restrict_permissions(path: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if let Ok(meta) = std::fs::metadata(path)
            && meta.permissions().mode() & 0o077 != 0
        {
            let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600));
        }
    }
}

/// Now, as the store writes times: UTC RFC 3339 with milliseconds.
pub fn now() -> String {
    format_ts(jiff::Timestamp::now())
}

pub fn format_ts(ts: jiff::Timestamp) -> String {
    ts.strftime("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

#[cfg(test)]
pub(crate) fn temp_store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("t.db")).unwrap();
    (dir, store)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fresh_store_is_at_the_latest_version_and_reopens() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/dir/s.db");
        let s = Store::open(&path).unwrap();
        assert_eq!(s.schema_version().unwrap(), SCHEMA_VERSION);
        assert_eq!(s.integrity_check().unwrap(), "ok");
        let mode: String = s
            .conn()
            .query_row("PRAGMA journal_mode", [], |r| r.get(0))
            .unwrap();
        assert_eq!(mode, "wal");
        let sync: i64 = s
            .conn()
            .query_row("PRAGMA synchronous", [], |r| r.get(0))
            .unwrap();
        assert_eq!(sync, 2, "synchronous=FULL");
        drop(s);
        let s = Store::open(&path).unwrap();
        assert_eq!(s.schema_version().unwrap(), SCHEMA_VERSION);
    }

    #[test]
    fn a_newer_store_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.db");
        drop(Store::open(&path).unwrap());
        let conn = Connection::open(&path).unwrap();
        conn.pragma_update(None, "user_version", SCHEMA_VERSION + 1)
            .unwrap();
        drop(conn);
        let err = Store::open(&path).err().expect("refused");
        assert_eq!(crate::error::exit_for(&err), crate::error::Exit::Config);
        assert!(err.to_string().contains("newer"), "{err}");
    }

    #[test]
    fn a_failed_write_rolls_back() {
        let (_d, s) = temp_store();
        let r: anyhow::Result<()> = s.write(|tx| {
            tx.execute(
                "INSERT INTO watermarks (entity, updated_at) VALUES ('x', 'y')",
                [],
            )?;
            anyhow::bail!("boom")
        });
        assert!(r.is_err());
        let n: i64 = s
            .conn()
            .query_row("SELECT count(*) FROM watermarks", [], |r| r.get(0))
            .unwrap();
        assert_eq!(n, 0);
    }
}
