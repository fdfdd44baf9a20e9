//! What a command takes from the process it runs in: where its results (stdout) and its
//! messages to the operator (stderr) go, and the environment its config layer reads. The
//! binary uses the process's own; a caller that runs commands in-process (the
//! integration tests' pipeline runs) gives buffers and a fixed environment, so parallel
//! runs in one process never share them. Logs are not here: they go through `tracing`.

use std::fmt::Display;
use std::io::Write as _;
use std::sync::{Arc, Mutex};

type EnvFn = dyn Fn(&str) -> Option<String> + Send + Sync;

#[derive(Clone, Default)]
pub struct Host {
    /// `None`: the process's stdout and stderr.
    captured: Option<Captured>,
    /// `None`: the process's environment.
    env: Option<Arc<EnvFn>>,
}

/// What an in-process run wrote, to be read after it.
#[derive(Clone, Default)]
pub struct Captured {
    out: Arc<Mutex<Vec<u8>>>,
    err: Arc<Mutex<Vec<u8>>>,
}

impl Captured {
    pub fn stdout(&self) -> Vec<u8> {
        std::mem::take(&mut *lock(&self.out))
    }

    pub fn stderr(&self) -> Vec<u8> {
        std::mem::take(&mut *lock(&self.err))
    }
}

fn lock(buf: &Mutex<Vec<u8>>) -> std::sync::MutexGuard<'_, Vec<u8>> {
    buf.lock().unwrap_or_else(|p| p.into_inner())
}

impl std::fmt::Debug for Host {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self.captured {
            None => "Host(process)",
            Some(_) => "Host(in-process)",
        })
    }
}

impl Host {
    /// Output into buffers (returned beside it), the environment from `env`.
    pub fn captured(
        env: impl Fn(&str) -> Option<String> + Send + Sync + 'static,
    ) -> (Host, Captured) {
        let captured = Captured::default();
        let host = Host {
            captured: Some(captured.clone()),
            env: Some(Arc::new(env)),
        };
        (host, captured)
    }

    /// Whether this is the process's own stdout and environment (the binary).
    pub fn is_process(&self) -> bool {
        self.captured.is_none()
    }

    /// Writes results. A closed stdout (`| head`) is an error the caller reports, as
    /// `println!` would have panicked on it.
    pub fn print(&self, text: impl Display) -> std::io::Result<()> {
        match &self.captured {
            None => {
                let mut out = std::io::stdout().lock();
                write!(out, "{text}")?;
                out.flush()
            }
            Some(c) => write!(lock(&c.out), "{text}"),
        }
    }

    /// A message to the operator on stderr (a refusal, a record's error), not a log line.
    pub fn eprintln(&self, text: impl Display) {
        match &self.captured {
            None => eprintln!("{text}"),
            Some(c) => {
                let _ = writeln!(lock(&c.err), "{text}");
            }
        }
    }

    /// Writes results and a newline.
    pub fn println(&self, text: impl Display) -> std::io::Result<()> {
        self.print(format_args!("{text}\n"))
    }

    /// Whether a person can be asked (stdin and stderr are a terminal); never in-process.
    pub fn is_terminal(&self) -> bool {
        use std::io::IsTerminal as _;
        self.is_process() && std::io::stdin().is_terminal() && std::io::stderr().is_terminal()
    }

    /// A variable of the environment, empty counting as unset.
    pub fn var(&self, key: &str) -> Option<String> {
        match &self.env {
            None => crate::config::process_env(key),
            Some(env) => env(key).filter(|v| !v.is_empty()),
        }
    }
}
