//! Error kinds a caller branches on, and the one place that maps them to exit codes
//! (SPEC section 3).

use std::fmt;
use std::path::PathBuf;

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

/// Process exit codes, ordered so that `max` gives the worst of several passes:
/// 70 > 77 > 69 > 1 > 0 (SPEC section 3, `all`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    Ok,
    Partial,
    Usage,
    Unavailable,
    Internal,
    LockBusy,
    AuthRejected,
    Config,
}

impl Exit {
    pub fn code(self) -> u8 {
        match self {
            Exit::Ok => 0,
            Exit::Partial => 1,
            Exit::Usage => 2,
            Exit::Unavailable => 69,
            Exit::Internal => 70,
            Exit::LockBusy => 75,
            Exit::AuthRejected => 77,
            Exit::Config => 78,
        }
    }

    /// Rank for "worst of": internal error outranks auth, auth outranks an outage,
    /// an outage outranks partial success. Usage, lock and config errors stop a run
    /// before any pass, so they rank highest.
    fn rank(self) -> u8 {
        match self {
            Exit::Ok => 0,
            Exit::Partial => 1,
            Exit::Unavailable => 2,
            Exit::AuthRejected => 3,
            Exit::Internal => 4,
            Exit::LockBusy => 5,
            Exit::Config => 6,
            Exit::Usage => 7,
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
}

impl Error {
    pub fn config(msg: impl Into<String>) -> Self {
        Error::Config(msg.into())
    }

    pub fn exit(&self) -> Exit {
        match self {
            Error::Config(_) => Exit::Config,
            Error::Usage(_) => Exit::Usage,
            Error::LockBusy { .. } => Exit::LockBusy,
            Error::Auth { .. } => Exit::AuthRejected,
            Error::Unavailable { .. } => Exit::Unavailable,
        }
    }
}

/// The exit code for an error that ended a command: the first [`Error`] in its chain
/// decides; anything else is an internal error.
pub fn exit_for(err: &anyhow::Error) -> Exit {
    err.chain()
        .find_map(|cause| cause.downcast_ref::<Error>())
        .map_or(Exit::Internal, Error::exit)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn worst_follows_the_spec_order() {
        use Exit::*;
        let order = [Ok, Partial, Unavailable, AuthRejected, Internal];
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
        ]
        .iter()
        .map(|e| e.code())
        .collect();
        assert_eq!(codes, [0, 1, 2, 69, 70, 75, 77, 78]);
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
}
