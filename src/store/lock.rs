//! One run at a time per store: an advisory lock (`flock`) on a file beside the
//! database. The OS drops it when the holder exits or is killed, so a `kill -9` never
//! leaves a stale lock. The database file itself is never locked this way: closing any
//! descriptor of it would drop SQLite's own POSIX locks.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use crate::error::Error;

pub struct StoreLock {
    _file: File,
}

impl StoreLock {
    /// The lock file of a store: `<store>.lock`.
    pub fn path_for(store: &Path) -> PathBuf {
        let mut name = store.as_os_str().to_owned();
        name.push(".lock");
        PathBuf::from(name)
    }

    /// Takes the lock at once or fails with [`Error::LockBusy`] naming the holder.
    /// The store's path must have been checked first ([`super::check_path`]): the lock
    /// file is created beside it, never in a directory made for it.
    pub fn acquire(store: &Path) -> anyhow::Result<StoreLock> {
        let path = Self::path_for(store);
        let lock_problem = |problem: String| {
            Error::store(
                store,
                problem,
                format!(
                    "make {} a writable regular file, or its directory writable by this user \
                     (`lsattr -d` shows an immutable flag)",
                    path.display()
                ),
            )
        };
        if let Ok(meta) = std::fs::symlink_metadata(&path)
            && !meta.is_file()
        {
            return Err(lock_problem(format!(
                "its lock file {} is not a regular file",
                path.display()
            ))
            .into());
        }
        let mut file = open_lock_file(&path).map_err(|e| {
            lock_problem(format!(
                "its lock file {} cannot be opened ({e})",
                path.display()
            ))
        })?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                let mut holder = String::new();
                let _ = file.read_to_string(&mut holder);
                let holder = holder
                    .split_whitespace()
                    .next()
                    .unwrap_or("unknown")
                    .to_string();
                return Err(Error::LockBusy { path, holder }.into());
            }
            Err(TryLockError::Error(e)) => {
                return Err(lock_problem(format!("cannot lock {} ({e})", path.display())).into());
            }
        }
        // For diagnostics only: the lock itself is the flock, not this text.
        file.set_len(0)?;
        file.seek(SeekFrom::Start(0))?;
        writeln!(file, "{} {}", std::process::id(), super::now())?;
        file.flush()?;
        Ok(StoreLock { _file: file })
    }
}

/// Whether the last run that took the store's lock may still be alive, judged from
/// the pid it wrote into the lock file, without touching the lock (a reader must never
/// make a starting run exit 75). Where processes cannot be looked up (no `/proc`), it
/// says yes, and what the store says stands.
pub fn holder_may_be_alive(store: &Path) -> bool {
    let Ok(text) = std::fs::read_to_string(StoreLock::path_for(store)) else {
        return false; // no run ever took the lock here
    };
    let Some(pid) = text
        .split_whitespace()
        .next()
        .and_then(|p| p.parse::<u32>().ok())
    else {
        return true;
    };
    let proc = Path::new("/proc");
    !proc.join("self").exists() || proc.join(pid.to_string()).exists()
}

fn open_lock_file(path: &Path) -> std::io::Result<File> {
    let mut opts = OpenOptions::new();
    opts.read(true).write(true).create(true).truncate(false);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    opts.open(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_holder_is_refused_until_the_first_lets_go() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("s.db");
        let first = StoreLock::acquire(&db).unwrap();
        let err = StoreLock::acquire(&db).err().expect("busy");
        assert_eq!(crate::error::exit_for(&err), crate::error::Exit::LockBusy);
        assert!(
            err.to_string().contains(&std::process::id().to_string()),
            "names the holder: {err}"
        );
        drop(first);
        StoreLock::acquire(&db).unwrap();
    }
}
