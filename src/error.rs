//! Error kinds a caller branches on, and the one place that maps them to exit codes
//! (SPEC section 3).

use std::fmt;
use std::path::{Path, PathBuf};

/// Which remote system an error concerns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Remote {
    Katana,
    Luca,
}

impl fmt::Display for Remote {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Remote::Katana => "Katana",
            Remote::Luca => "Luca",
        })
    }
}

/// The signals that stop a pass at a safe point (SPEC section 3: exit 130 / 143).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    Interrupt,
    Terminate,
}

impl Signal {
    pub fn exit(self) -> Exit {
        match self {
            Signal::Interrupt => Exit::Interrupted,
            Signal::Terminate => Exit::Terminated,
        }
    }
}

impl fmt::Display for Signal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Signal::Interrupt => "SIGINT",
            Signal::Terminate => "SIGTERM",
        })
    }
}

/// Process exit codes, ordered so that `worst` gives the worst of several passes:
/// 70 > 74 > 77 > 69 > 1 > 0 (SPEC section 3, `all`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    Ok,
    Partial,
    Usage,
    Unavailable,
    Internal,
    Store,
    LockBusy,
    AuthRejected,
    Config,
    /// SIGINT
    Interrupted,
    /// SIGTERM
    Terminated,
}

impl Exit {
    pub fn code(self) -> u8 {
        match self {
            Exit::Ok => 0,
            Exit::Partial => 1,
            Exit::Usage => 2,
            Exit::Unavailable => 69,
            Exit::Internal => 70,
            Exit::Store => 74,
            Exit::LockBusy => 75,
            Exit::AuthRejected => 77,
            Exit::Config => 78,
            Exit::Interrupted => 130,
            Exit::Terminated => 143,
        }
    }

    /// Rank for "worst of": internal error outranks an unusable store, which outranks
    /// auth, auth outranks an outage, an outage outranks partial success. An
    /// interruption ends every pass after it; usage, lock and config errors stop a run
    /// before any pass, so they rank highest.
    fn rank(self) -> u8 {
        match self {
            Exit::Ok => 0,
            Exit::Partial => 1,
            Exit::Unavailable => 2,
            Exit::AuthRejected => 3,
            Exit::Store => 4,
            Exit::Internal => 5,
            Exit::Interrupted | Exit::Terminated => 6,
            Exit::LockBusy => 7,
            Exit::Config => 8,
            Exit::Usage => 9,
        }
    }

    pub fn worst(self, other: Exit) -> Exit {
        if other.rank() > self.rank() {
            other
        } else {
            self
        }
    }
}

/// Errors that decide the exit code. Anything else reaching `main` is a bug (70).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("configuration: {0}")]
    Config(String),

    #[error("{0}")]
    Usage(String),

    #[error(
        "another katana-sync run holds the lock {path} (pid {holder}); nothing was done. \
         It ends on its own; if no such process exists the lock is already free and the next run proceeds"
    )]
    LockBusy { path: PathBuf, holder: String },

    #[error("{remote} rejected the credentials: {detail}")]
    Auth { remote: Remote, detail: String },

    #[error("{remote} stayed unavailable after retries: {detail}")]
    Unavailable { remote: Remote, detail: String },

    /// The store (or a file beside it) cannot be used: a problem of the machine or the
    /// files, never a bug (exit 74).
    #[error("the store {path}: {problem}; {fix}")]
    Store {
        path: PathBuf,
        problem: String,
        fix: String,
    },

    /// A value read from the store that this binary does not know. It is never guessed
    /// (an unknown outbox state taken for `pending` would send a create again), so the
    /// store is unusable to this binary until the value is explained (exit 74).
    #[error(
        "the store's {table} row {id} has {column} {value:?}, which this katana-sync does not \
         know; the store was probably written by a newer katana-sync (run that version, or \
         upgrade this one), or the row was edited by hand (restore a valid value)"
    )]
    UnknownStored {
        table: &'static str,
        id: i64,
        column: &'static str,
        value: String,
    },

    /// A pass stopped at a safe point because of a signal (exit 130 / 143).
    #[error(
        "interrupted by {signal}: stopped at a safe point (nothing new was started after it; \
         creates in flight finished, or stay in doubt and are looked up before anything is \
         sent again); the next run carries on"
    )]
    Interrupted { signal: Signal },
}

impl Error {
    pub fn config(msg: impl Into<String>) -> Self {
        Error::Config(msg.into())
    }

    pub fn store(path: &Path, problem: impl Into<String>, fix: impl Into<String>) -> Self {
        Error::Store {
            path: path.to_path_buf(),
            problem: problem.into(),
            fix: fix.into(),
        }
    }

    pub fn unknown_stored(
        table: &'static str,
        id: i64,
        column: &'static str,
        value: impl Into<String>,
    ) -> Self {
        Error::UnknownStored {
            table,
            id,
            column,
            value: value.into(),
        }
    }

    pub fn exit(&self) -> Exit {
        match self {
            Error::Store { .. } | Error::UnknownStored { .. } => Exit::Store,
            Error::Interrupted { signal } => signal.exit(),
            Error::Config(_) => Exit::Config,
            Error::Usage(_) => Exit::Usage,
            Error::LockBusy { .. } => Exit::LockBusy,
            Error::Auth { .. } => Exit::AuthRejected,
            Error::Unavailable { .. } => Exit::Unavailable,
        }
    }
}

/// The exit code for an error that ended a command: the first typed error in its chain
/// decides (ours, or a remote client's); an SQLite error that says the file or the disk
/// failed is the store's (74), wherever it surfaced; anything else is an internal error.
pub fn exit_for(err: &anyhow::Error) -> Exit {
    err.chain()
        .find_map(|cause| {
            cause
                .downcast_ref::<Error>()
                .map(Error::exit)
                .or_else(|| {
                    cause
                        .downcast_ref::<crate::katana::Error>()
                        .map(|e| e.exit())
                })
                .or_else(|| cause.downcast_ref::<crate::luca::Error>().map(|e| e.exit()))
                .or_else(|| {
                    cause
                        .downcast_ref::<rusqlite::Error>()
                        .and_then(storage_problem)
                        .map(|_| Exit::Store)
                })
        })
        .unwrap_or(Exit::Internal)
}

/// What an SQLite error says about the file or the machine, when it is such an error
/// (not a bug in a statement): the problem and the fix, in words for an operator.
pub fn storage_problem(err: &rusqlite::Error) -> Option<(String, &'static str)> {
    use rusqlite::ErrorCode as C;
    let rusqlite::Error::SqliteFailure(e, msg) = err else {
        return None;
    };
    let detail = msg.clone().unwrap_or_else(|| e.to_string());
    let fix = match e.code {
        C::NotADatabase => {
            "it is not a katana-sync store: point --db at the store, or move this file aside"
        }
        C::DatabaseCorrupt => {
            "restore it from a backup, or move it aside and let the next run rebuild it \
             (Katana data are pulled again; Luca ids are re-adopted by lookup)"
        }
        C::ReadOnly | C::PermissionDenied | C::CannotOpen => {
            "make the file and its directory writable by this user (and not immutable, \
             `lsattr`), or run as the store's owner"
        }
        C::DiskFull => "free space on its disk, then run again",
        C::SystemIoFailure => {
            "check the free space (`df`) and the disk (`dmesg`), and that the file is on a \
             local disk"
        }
        C::FileLockingProtocolFailed => "keep the store on a local disk (not NFS or SMB)",
        _ => return None,
    };
    Some((detail, fix))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn worst_follows_the_spec_order() {
        use Exit::*;
        let order = [Ok, Partial, Unavailable, AuthRejected, Store, Internal];
        for (i, a) in order.iter().enumerate() {
            for b in &order[i..] {
                assert_eq!(a.worst(*b), *b, "{a:?} vs {b:?}");
                assert_eq!(b.worst(*a), *b, "{b:?} vs {a:?}");
            }
        }
    }

    #[test]
    fn exit_codes_match_the_spec() {
        let codes: Vec<u8> = [
            Exit::Ok,
            Exit::Partial,
            Exit::Usage,
            Exit::Unavailable,
            Exit::Internal,
            Exit::LockBusy,
            Exit::AuthRejected,
            Exit::Config,
            Exit::Store,
            Exit::Interrupted,
            Exit::Terminated,
        ]
        .iter()
        .map(|e| e.code())
        .collect();
        assert_eq!(codes, [0, 1, 2, 69, 70, 75, 77, 78, 74, 130, 143]);
    }

    #[test]
    fn the_first_typed_error_in_the_chain_decides() {
        let err = anyhow::Error::new(Error::Auth {
            remote: Remote::Katana,
            detail: "401".into(),
        })
        .context("orders pull");
        assert_eq!(exit_for(&err), Exit::AuthRejected);
        assert_eq!(exit_for(&anyhow::anyhow!("boom")), Exit::Internal);
        let cfg = anyhow::Error::new(Error::config("katana.page_size")).context("loading");
        assert_eq!(exit_for(&cfg), Exit::Config);
    }

    #[test]
    fn a_disk_or_file_failure_from_sqlite_is_the_store_not_a_bug() {
        let full = rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_FULL),
            None,
        );
        let err = anyhow::Error::new(full).context("committing to the store");
        assert_eq!(exit_for(&err), Exit::Store);
        let syntax = rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_ERROR),
            Some("near \"SELEC\": syntax error".into()),
        );
        assert_eq!(exit_for(&anyhow::Error::new(syntax)), Exit::Internal);
    }
}
