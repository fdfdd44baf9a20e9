//! The optional state file: the whole remote (Katana data, Luca ledger, id counters) as
//! JSON, so consecutive `--sandbox` runs, each with its own in-process sandbox, talk to
//! the same remote.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::Context as _;
use serde::{Deserialize, Serialize};

use super::ledger::LucaData;
use super::lock;
use super::model::KatanaData;

/// Bumped when the layout changes incompatibly; an older file is then refused, not misread.
const VERSION: u32 = 1;

#[derive(Serialize, Deserialize)]
struct SavedState {
    version: u32,
    katana: KatanaData,
    luca: LucaData,
}

/// Reads the state file; `None` when it does not exist yet.
pub fn load(path: &Path) -> anyhow::Result<Option<(KatanaData, LucaData)>> {
    let text = match std::fs::read(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(e).with_context(|| format!("sandbox: reading {}", path.display()));
        }
    };
    let state: SavedState = serde_json::from_slice(&text).with_context(|| {
        format!(
            "sandbox: {} is not a sandbox state file (delete it to start afresh)",
            path.display()
        )
    })?;
    if state.version != VERSION {
        anyhow::bail!(
            "sandbox: {} has state version {}, this build reads {VERSION} (delete it to start afresh)",
            path.display(),
            state.version
        );
    }
    Ok(Some((state.katana, state.luca)))
}

/// Writes snapshots atomically (temp file + rename), newest snapshot last.
pub struct Persister {
    path: PathBuf,
    /// Numbers snapshots in the order they were taken (under the data locks).
    taken: AtomicU64,
    /// The newest snapshot on disk; also serialises the writers.
    written: Mutex<u64>,
}

impl Persister {
    pub fn new(path: PathBuf) -> Self {
        Self {
            path,
            taken: AtomicU64::new(0),
            written: Mutex::new(0),
        }
    }

    /// Snapshots both sides and writes them, unless a newer snapshot got there first.
    /// Failures are logged, not returned: a request must not fail because of the file.
    pub fn save(&self, katana: &Mutex<KatanaData>, luca: &Mutex<LucaData>) {
        let (generation, bytes) = {
            // Always Katana before Luca, the one lock order used anywhere both are held.
            let k = lock(katana);
            let l = lock(luca);
            let generation = self.taken.fetch_add(1, Ordering::SeqCst) + 1;
            let state = SavedStateRef {
                version: VERSION,
                katana: &k,
                luca: &l,
            };
            (generation, serde_json::to_vec(&state))
        };
        let bytes = match bytes {
            Ok(b) => b,
            Err(e) => {
                tracing::warn!("sandbox: cannot serialise the state: {e}");
                return;
            }
        };
        let mut written = lock(&self.written);
        if *written >= generation {
            return;
        }
        let tmp = self.path.with_extension("tmp");
        let result = std::fs::write(&tmp, &bytes).and_then(|()| std::fs::rename(&tmp, &self.path));
        match result {
            Ok(()) => *written = generation,
            Err(e) => tracing::warn!("sandbox: cannot save {}: {e}", self.path.display()),
        }
    }
}

/// The serialised form of [`SavedState`], borrowing the data instead of cloning it.
#[derive(Serialize)]
struct SavedStateRef<'a> {
    version: u32,
    katana: &'a KatanaData,
    luca: &'a LucaData,
}
