//! The SQLite store: opening (pragmas, migrations), the write-transaction helper, and
//! one file per table group.
//!
//! Every write runs in `BEGIN IMMEDIATE` (a writer never meets SQLITE_BUSY halfway
//! through) and no transaction is ever held across an HTTP call.

pub mod adjustments;
pub mod catalog;
pub mod invoices;
pub mod lock;
pub mod luca_findings;
pub mod luca_ids;
pub mod metrics;
pub mod orders;
pub mod outbox;
pub mod quarantine;
pub mod runs;
pub mod stock;
pub mod watermarks;

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use rusqlite::{Connection, OpenFlags, Transaction, TransactionBehavior};

use crate::error::{Error, storage_problem};

/// The embedded migrations, in order, each with the version it brings the store to (its
/// file number).
const MIGRATIONS: &[(i64, &str)] = &[
    (1, include_str!("../../sql/0001_init.sql")),
    (2, include_str!("../../sql/0002_resumable_walks.sql")),
    (3, include_str!("../../sql/0003_luca_findings.sql")),
    (4, include_str!("../../sql/0004_accounts.sql")),
    (5, include_str!("../../sql/0005_invoices.sql")),
    (6, include_str!("../../sql/0006_stock.sql")),
    (7, include_str!("../../sql/0007_append_orders.sql")),
];

/// The schema version this binary writes.
pub const SCHEMA_VERSION: i64 = MIGRATIONS[MIGRATIONS.len() - 1].0;

/// What a command may do at the store's path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// A command that writes: an absent store is created (mode 0600).
    Create,
    /// A command that only reads: the store must already exist ("no store at PATH").
    Existing,
}

/// What the store's path holds, once checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Found {
    Absent,
    File,
}

pub struct Store {
    conn: Connection,
    path: PathBuf,
}

impl Store {
    /// Opens (creating if needed) the store at `path` and brings its schema up to date.
    /// A store written by a newer binary is refused.
    pub fn open(path: &Path) -> anyhow::Result<Store> {
        Self::open_with(path, Access::Create)
    }

    /// Opens a store that must exist, for commands that only read it.
    pub fn open_existing(path: &Path) -> anyhow::Result<Store> {
        Self::open_with(path, Access::Existing)
    }

    pub fn open_with(path: &Path, access: Access) -> anyhow::Result<Store> {
        if check_path(path, access)? == Found::Absent {
            create_file(path)?;
        }
        // No SQLITE_OPEN_CREATE: the file exists now (checked, or created by us with
        // its mode), so SQLite never makes one anywhere the checks did not look.
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(path, flags)
            .map_err(|e| on_store(path, "cannot be opened", e.into()))?;
        // synchronous=FULL: an intent row committed before a Luca call must survive a
        // power loss, or a create could be sent twice.
        conn.execute_batch(
            "PRAGMA journal_mode = WAL;
             PRAGMA synchronous = FULL;
             PRAGMA foreign_keys = ON;
             PRAGMA busy_timeout = 5000;
             PRAGMA journal_size_limit = 67108864;",
        )
        .map_err(|e| on_store(path, "cannot be set up", e.into()))?;
        // A backfill writes orders, rows, adjustments and their indexes page after
        // page: with SQLite's 2 MB cache every page's transaction read the index pages
        // back it had just evicted, and a checkpoint every 4 MB of WAL wrote the same
        // hot index pages into the database again and again. 16 MiB of cache and a
        // checkpoint every 32 MiB keep the peak RSS well under 64 MiB.
        conn.execute_batch("PRAGMA cache_size = -16384; PRAGMA temp_store = MEMORY;")
            .map_err(|e| on_store(path, "cannot be set up", e.into()))?;
        tune_checkpoints(&conn).map_err(|e| on_store(path, "cannot be set up", e.into()))?;
        // The query planner stability guarantee: a plan never depends on the values
        // bound to it. Without it SQLite marked the judging's row query (the rows of
        // an order, joined to their variants) to be compiled again whenever a new
        // order id was bound: an eighth of a backfill's CPU went to parsing it again.
        // No query here needs a bound value to choose its plan (partial indexes are
        // matched by the literals in the queries).
        conn.set_db_config(
            rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG,
            true,
        )
        .map_err(|e| on_store(path, "cannot be set up", e.into()))?;
        // A page's transaction runs some 25 distinct statements; rusqlite's default
        // cache of 16 prepared them again for every order.
        conn.set_prepared_statement_cache_capacity(64);
        let store = Store {
            conn,
            path: path.to_path_buf(),
        };
        store.migrate()?;
        Ok(store)
    }

    /// Opens an existing store read-only, as it is: no pragma that writes, no
    /// migration (for `doctor`, which changes nothing).
    pub fn inspect(path: &Path) -> anyhow::Result<Store> {
        check_path(path, Access::Existing)?;
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(path, flags)
            .map_err(|e| on_store(path, "cannot be opened", e.into()))?;
        Ok(Store {
            conn,
            path: path.to_path_buf(),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn conn(&self) -> &Connection {
        &self.conn
    }

    /// Runs `f` in one `BEGIN IMMEDIATE` transaction, committed when `f` succeeds and
    /// rolled back when it fails. Inside an open transaction (a dry run) it nests as a
    /// savepoint. A failure of the file or the disk comes back as the store's error
    /// (exit 74, naming the path), wherever in `f` it happened.
    pub fn write<T>(&self, f: impl FnOnce(&Connection) -> anyhow::Result<T>) -> anyhow::Result<T> {
        self.write_inner(f)
            .map_err(|e| on_store(&self.path, "cannot be written", e))
    }

    fn write_inner<T>(
        &self,
        f: impl FnOnce(&Connection) -> anyhow::Result<T>,
    ) -> anyhow::Result<T> {
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

    /// Whether the schema version is one this binary can bring up to date, and how far
    /// behind it is; an unknown version (negative, newer, or 0 on a database that has
    /// tables: not ours) is refused before any migration could run on it.
    pub fn migration_state(&self) -> anyhow::Result<i64> {
        let path = self.path.display();
        let current = self
            .schema_version()
            .map_err(|e| on_store(&self.path, "cannot be read", e))?;
        if current < 0 {
            return Err(Error::store(
                &self.path,
                format!("has schema version {current}, which no katana-sync writes"),
                "point --db at a katana-sync store, or move this file aside",
            )
            .into());
        }
        if current > SCHEMA_VERSION {
            return Err(Error::config(format!(
                "the store {path} has schema version {current}, newer than this katana-sync \
                 understands ({SCHEMA_VERSION}); run the newer katana-sync that wrote it, \
                 or point --db at another store"
            ))
            .into());
        }
        if current == 0 {
            let foreign: Option<String> = self
                .conn
                .query_row(
                    "SELECT name FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' \
                     ORDER BY name LIMIT 1",
                    [],
                    |r| r.get(0),
                )
                .ok();
            if let Some(table) = foreign {
                return Err(Error::store(
                    &self.path,
                    format!(
                        "is an SQLite database but not a katana-sync store (schema version 0, \
                         yet it holds tables such as `{table}`); it was left as it is"
                    ),
                    "point --db at the katana-sync store, or at a new path for a new one",
                )
                .into());
            }
        }
        Ok(current)
    }

    fn migrate(&self) -> anyhow::Result<()> {
        let current = self.migration_state()?;
        for &(version, sql) in MIGRATIONS.iter().filter(|(v, _)| *v > current) {
            self.write_inner(|tx| {
                tx.execute_batch(sql).map_err(|e| {
                    if storage_problem(&e).is_some() {
                        return anyhow::Error::new(e);
                    }
                    // The SQLite message only: the migration's text is no use to an
                    // operator and must not flood the terminal.
                    anyhow::anyhow!(
                        "applying migration {version:04} failed: {}",
                        sqlite_message(&e)
                    )
                })?;
                tx.pragma_update(None, "user_version", version)?;
                Ok(())
            })
            .map_err(|e| on_store(&self.path, "cannot be migrated", e))?;
            tracing::debug!(version, "store migrated");
        }
        Ok(())
    }
}

/// The entity named in row `id` of `table` (quarantine, run_errors, outbox); one this
/// binary does not know is an error naming the row, never a guess.
pub fn stored_entity(
    table: &'static str,
    id: i64,
    name: &str,
) -> Result<crate::entity::Entity, crate::error::Error> {
    name.parse()
        .map_err(|_| crate::error::Error::unknown_stored(table, id, "entity", name))
}

/// Every connection that writes to the store checkpoints at the same WAL size (32
/// MiB). SQLite's default is 1,000 pages (4 MB) per connection: a second connection
/// (the Katana rate log, which commits after every request) with the default
/// checkpointed the whole WAL after every page of a backfill, writing each page's
/// index pages into the database once more.
pub fn tune_checkpoints(conn: &Connection) -> rusqlite::Result<()> {
    conn.pragma_update(None, "wal_autocheckpoint", 8192)
}

/// Checks what is at the store's path before anything is opened, created or locked
/// there: a regular file (directly or through a symbolic link), or nothing at all in an
/// existing directory. Anything else is the store's error (exit 74) naming the path.
pub fn check_path(path: &Path, access: Access) -> Result<Found, Error> {
    let shown = path.display();
    let meta = match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_symlink() => match std::fs::metadata(path) {
            Ok(target) => target,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let target = std::fs::read_link(path)
                    .map_or_else(|_| "?".to_string(), |t| t.display().to_string());
                return Err(Error::store(
                    path,
                    format!("is a symbolic link to {target}, which does not exist"),
                    "point --db at the store itself; a store is never created through a link",
                ));
            }
            Err(e) => return Err(uninspectable(path, &e)),
        },
        Ok(meta) => meta,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return match access {
                Access::Existing => Err(Error::store(
                    path,
                    "no store at this path",
                    "run a pass (e.g. `katana-sync orders pull`) to create it, or point --db, \
                     KATANA_SYNC_DB or `[store] path` at the existing store",
                )),
                Access::Create => {
                    check_directory(path)?;
                    directory_writable(path).map(|()| Found::Absent)
                }
            };
        }
        Err(e) => return Err(uninspectable(path, &e)),
    };
    if meta.is_dir() {
        return Err(Error::store(
            path,
            "is a directory, not a store file",
            format!(
                "point --db at a file, e.g. {}",
                path.join(crate::config::DEFAULT_STORE).display()
            ),
        ));
    }
    if !meta.is_file() {
        return Err(Error::store(
            path,
            format!("is a {}, not a regular file", file_kind(&meta)),
            "point --db at a store file (a new path creates one)",
        ));
    }
    let mut opts = std::fs::OpenOptions::new();
    opts.read(true).write(access == Access::Create);
    if let Err(e) = opts.open(path) {
        return Err(Error::store(
            path,
            format!(
                "cannot be opened for {} ({e})",
                if access == Access::Create {
                    "writing"
                } else {
                    "reading"
                }
            ),
            format!(
                "give this user {} access to it (`ls -l {shown}`; `lsattr {shown}` shows an \
                 immutable flag), or run as the store's owner",
                if access == Access::Create {
                    "read and write"
                } else {
                    "read"
                }
            ),
        ));
    }
    // Before any lock file is made beside it: a file that is not a store (or a
    // truncated one) is refused with nothing created.
    check_length(path)?;
    if access == Access::Create {
        // SQLite creates its -wal and -shm files beside the store, the lock lives there.
        directory_writable(path)?;
    }
    Ok(Found::File)
}

/// Whether this user may create files in the store's directory (SQLite creates its
/// `-wal` and `-shm` files there, the lock file lives there): `access(2)`, which also
/// says no for an immutable directory or a read-only file system, even to root.
pub fn directory_writable(path: &Path) -> Result<(), Error> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    rustix::fs::access(dir, rustix::fs::Access::WRITE_OK).map_err(|e| {
        Error::store(
            path,
            format!("its directory {} is not writable ({e})", dir.display()),
            format!(
                "make {} writable by the user that runs katana-sync (`lsattr -d` shows an \
                 immutable flag; `findmnt -T` a read-only mount)",
                dir.display()
            ),
        )
    })
}

/// The directory of a store about to be created must exist: it is never created
/// implicitly (a typo in --db must not grow a tree of directories).
fn check_directory(path: &Path) -> Result<(), Error> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    match std::fs::metadata(dir) {
        Ok(m) if m.is_dir() => Ok(()),
        Ok(_) => Err(Error::store(
            path,
            format!("{} is not a directory", dir.display()),
            "point --db at a path inside a directory",
        )),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(Error::store(
            path,
            format!("its directory {} does not exist", dir.display()),
            format!(
                "create it (`mkdir -p {}`, owned by the user that runs katana-sync), \
                 or point --db elsewhere",
                dir.display()
            ),
        )),
        Err(e) => Err(uninspectable(path, &e)),
    }
}

/// Creates an absent store file with its final mode from the start: the store holds
/// customer names and tax numbers. `create_new` never follows a link and never touches
/// a file that appeared meanwhile.
fn create_file(path: &Path) -> Result<(), Error> {
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    match opts.open(path) {
        Ok(_) => Ok(()),
        // Created meanwhile by another run: check it like any existing path.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            check_path(path, Access::Create).map(|_| ())
        }
        Err(e) => Err(Error::store(
            path,
            format!("cannot be created ({e})"),
            "make its directory writable by this user (`lsattr -d` shows an immutable flag), \
             or point --db elsewhere",
        )),
    }
}

/// A store shorter than its header says was truncated (a partial copy, a full disk):
/// refused at once, rather than failing somewhere in the middle of a pass.
fn check_length(path: &Path) -> Result<(), Error> {
    use std::io::Read as _;
    let damaged = |problem: String| {
        Error::store(
            path,
            problem,
            "restore it from a backup, or move it aside and let the next run rebuild it \
             (Katana data are pulled again; Luca ids are re-adopted by lookup)",
        )
    };
    let Ok(mut file) = std::fs::File::open(path) else {
        return Ok(()); // check_path already said why, for the cases that matter
    };
    let len = file.metadata().map(|m| m.len()).unwrap_or(0);
    let mut header = [0u8; 100];
    if len == 0 || file.read_exact(&mut header).is_err() {
        return Ok(()); // empty (new), or too short: SQLite says "not a database"
    }
    if &header[..16] != b"SQLite format 3\0" {
        return Err(Error::store(
            path,
            "is not an SQLite database (no SQLite header)",
            "point --db at the katana-sync store, or at a new path for a new one; \
             this file was left as it is",
        ));
    }
    let page_size = match u16::from_be_bytes([header[16], header[17]]) {
        1 => 65536,
        n => u64::from(n),
    };
    let pages = u64::from(u32::from_be_bytes([
        header[28], header[29], header[30], header[31],
    ]));
    // The page count is valid only when its "version valid for" matches the change
    // counter (SQLite file format, section 1.3.7).
    let valid = header[92..96] == header[24..28];
    if page_size >= 512 && valid && len < pages * page_size {
        return Err(damaged(format!(
            "is truncated: {len} bytes, but its header counts {pages} pages of {page_size} bytes"
        )));
    }
    Ok(())
}

fn file_kind(meta: &std::fs::Metadata) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        let t = meta.file_type();
        if t.is_char_device() {
            return "character device";
        }
        if t.is_block_device() {
            return "block device";
        }
        if t.is_fifo() {
            return "named pipe";
        }
        if t.is_socket() {
            return "socket";
        }
    }
    let _ = meta;
    "special file"
}

fn uninspectable(path: &Path, e: &std::io::Error) -> Error {
    Error::store(
        path,
        format!("cannot be inspected ({e})"),
        "give this user access to every directory on the path",
    )
}

/// The message of an SQLite error without the statement text some variants carry.
fn sqlite_message(e: &rusqlite::Error) -> String {
    match e {
        rusqlite::Error::SqliteFailure(err, msg) => msg.clone().unwrap_or_else(|| err.to_string()),
        rusqlite::Error::SqlInputError { msg, .. } => msg.clone(),
        other => other.to_string(),
    }
}

/// Turns a failure of the file or the disk (somewhere in `err`'s chain) into the
/// store's error, naming the path and the fix; anything else passes through.
fn on_store(path: &Path, doing: &str, err: anyhow::Error) -> anyhow::Error {
    if err.chain().any(|c| c.downcast_ref::<Error>().is_some()) {
        return err;
    }
    let problem = err.chain().find_map(|c| {
        c.downcast_ref::<rusqlite::Error>()
            .and_then(storage_problem)
    });
    match problem {
        Some((detail, fix)) => Error::store(path, format!("{doing}: {detail}"), fix).into(),
        None => err,
    }
}

pub use crate::time::{format_ts, now};

/// Writes a value the schema's CHECK refuses, as a newer binary's migration would allow.
#[cfg(test)]
pub(crate) fn force_value(conn: &rusqlite::Connection, sql: &str) {
    conn.execute_batch(&format!(
        "PRAGMA ignore_check_constraints = ON; {sql}; PRAGMA ignore_check_constraints = OFF;"
    ))
    .unwrap();
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
        let path = dir.path().join("s.db");
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
    fn a_store_of_version_6_keeps_its_orders_rows_and_adjustments_through_migration_7() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.db");
        let conn = Connection::open(&path).unwrap();
        for &(version, sql) in MIGRATIONS.iter().filter(|(v, _)| *v <= 6) {
            conn.execute_batch(sql).unwrap();
            conn.pragma_update(None, "user_version", version).unwrap();
        }
        conn.execute_batch(
            "INSERT INTO sales_orders (id, order_no, status, raw_json, updated_at)
                 VALUES (9, 'SO-9', 'NOT_SHIPPED', '{\"id\":9,\"note\":\"Şişli\"}', 't9'),
                        (3, 'SO-3', 'DELIVERED', '{}', 't3');
             UPDATE sales_orders SET reference_only = 1 WHERE id = 3;
             INSERT INTO sales_order_rows (id, sales_order_id, variant_id, quantity, raw_json)
                 VALUES (91, 9, 5, '2', '{}'), (92, 9, 6, '1.5', '{}');
             INSERT INTO adjustments (kind, order_id, order_no, row_id, variant_id, sku,
                                      quantity, status, created_at, updated_at)
                 VALUES ('sale', 9, 'SO-9', 91, 5, 'A-1', '2', 'pending', 'c', 'c');",
        )
        .unwrap();
        drop(conn);

        let s = Store::open(&path).unwrap();
        assert_eq!(s.schema_version().unwrap(), SCHEMA_VERSION);
        assert_eq!(s.integrity_check().unwrap(), "ok");
        let c = s.conn();
        let orders: Vec<(i64, String, bool, String)> = c
            .prepare("SELECT id, order_no, reference_only, raw_json FROM sales_orders ORDER BY id")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(
            orders,
            vec![
                (3, "SO-3".into(), true, "{}".into()),
                (
                    9,
                    "SO-9".into(),
                    false,
                    "{\"id\":9,\"note\":\"Şişli\"}".into()
                ),
            ]
        );
        let rows: Vec<(i64, i64, String)> = c
            .prepare("SELECT id, sales_order_id, quantity FROM sales_order_rows ORDER BY id")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(rows, vec![(91, 9, "2".into()), (92, 9, "1.5".into())]);
        let live: i64 = c
            .query_row(
                "SELECT count(*) FROM adjustments WHERE kind = 'sale' AND order_id = 9",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(live, 1);
        // The Katana id is still the key: a second order or row with it is refused.
        assert!(
            c.execute(
                "INSERT INTO sales_orders (id, order_no, status, raw_json) VALUES (9, 'X', 'x', '{}')",
                [],
            )
            .is_err()
        );
        assert!(
            c.execute(
                "INSERT INTO sales_order_rows (id, sales_order_id, quantity, raw_json) VALUES (91, 1, '1', '{}')",
                [],
            )
            .is_err()
        );
        let indexes: Vec<String> = c
            .prepare(
                "SELECT name FROM sqlite_schema WHERE type = 'index' AND sql IS NOT NULL
                   AND tbl_name IN ('sales_orders', 'sales_order_rows', 'adjustments')
                 ORDER BY name",
            )
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(
            indexes,
            [
                "adjustments_drift_key",
                "adjustments_live_drift",
                "adjustments_live_sale",
                "adjustments_order",
                "adjustments_outbox",
                "adjustments_status",
                "sales_order_rows_order",
                "sales_order_rows_variant",
                "sales_orders_no",
            ]
        );
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
