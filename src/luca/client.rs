//! The Luca Koza client: a pool of logged-in sessions (each its own cookie jar, logged
//! in with `Giris.do` and switched to the configured branch), one request at a time per
//! session. Reads are retried (re-login once on a lost session, backoff on transient
//! failures); a create is sent exactly once and its outcome classified, never retried
//! here: an unclear outcome goes back to the outbox as unknown.

use std::sync::Arc;
use std::sync::Mutex as StdMutex;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use reqwest::header::{CONTENT_TYPE, HeaderValue};
use secrecy::ExposeSecret as _;
use serde_json::{Value, json};
use tokio::sync::{Mutex, Semaphore};

use super::answer::{Answer, classify, excerpt, id_field, list_items, text_field};
use super::charset::encode_body;
use crate::config::{LucaConfig, SecretSource};
use crate::context::RequestCounters;
use crate::error::Exit;

/// Consecutive failed logins before giving up, so an admin account is never locked out.
const MAX_LOGIN_FAILURES: u32 = 3;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(
        "Luca rejected the login (orgCode {org_code}, user {user}; the password came from \
         {password_source}): {detail}. Check `luca.org_code`, `luca.username` and \
         `luca.password` / LUCA_PASSWORD (the user must be the organisation's Admin)"
    )]
    Auth {
        org_code: String,
        user: String,
        password_source: SecretSource,
        detail: String,
    },

    #[error(
        "Luca branch {wanted} is not among the branches this user can use ({available}); set `luca.branch_id` to one of them, or 0 for the first"
    )]
    NoSuchBranch { wanted: i64, available: String },

    #[error(
        "Luca stayed unavailable for {endpoint} after {attempts} attempt(s): {last}; nothing was lost, the next run carries on"
    )]
    Unavailable {
        endpoint: String,
        attempts: u32,
        last: String,
    },

    /// A read that Luca answered with a business error: the lookup failed, and a failed
    /// lookup is never taken for "absent".
    #[error("Luca refused {endpoint}: {message}")]
    Refused { endpoint: String, message: String },

    /// A list answer whose shape is not a list: never taken for "empty".
    #[error("Luca's answer to {endpoint} is not a list: {detail}")]
    NotAList { endpoint: String, detail: String },

    #[error("{0}")]
    Unencodable(String),
}

impl Error {
    pub fn exit(&self) -> Exit {
        match self {
            Error::Auth { .. } => Exit::AuthRejected,
            Error::NoSuchBranch { .. } => Exit::Config,
            Error::Unavailable { .. } | Error::Refused { .. } | Error::NotAList { .. } => {
                Exit::Unavailable
            }
            Error::Unencodable(_) => Exit::Partial,
        }
    }

    /// Errors after which no further Luca call of this run can succeed.
    pub fn is_fatal(&self) -> bool {
        matches!(self, Error::Auth { .. } | Error::NoSuchBranch { .. })
    }
}

/// How a write (create, delete) ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Luca did it; its answer (with the new id, for a create).
    Done(Value),
    /// Luca says it already exists.
    Exists(String),
    /// Luca refused it (a business error): nothing was created.
    Rejected(String),
    /// No clear answer (timeout, reset, 5xx, HTML page): it may or may not exist now.
    Unknown(String),
}

struct Session {
    http: reqwest::Client,
    ready: bool,
}

pub struct LucaClient {
    cfg: LucaConfig,
    sessions: Vec<Mutex<Session>>,
    free: StdMutex<Vec<usize>>,
    permits: Semaphore,
    login_failures: AtomicU32,
    max_attempts: u32,
    counters: Arc<RequestCounters>,
}

/// A session taken from the pool; it goes back when dropped.
struct Taken<'a> {
    client: &'a LucaClient,
    index: usize,
    _permit: tokio::sync::SemaphorePermit<'a>,
}

impl Drop for Taken<'_> {
    fn drop(&mut self) {
        self.client
            .free
            .lock()
            .expect("session pool")
            .push(self.index);
    }
}

impl LucaClient {
    pub fn new(
        cfg: &LucaConfig,
        max_attempts: u32,
        counters: Arc<RequestCounters>,
    ) -> anyhow::Result<LucaClient> {
        let mut sessions = Vec::new();
        for _ in 0..cfg.sessions {
            let http = reqwest::Client::builder()
                .cookie_store(true)
                .timeout(cfg.timeout)
                .connect_timeout(Duration::from_secs(10))
                .user_agent(concat!("katana-sync/", env!("CARGO_PKG_VERSION")))
                .build()?;
            sessions.push(Mutex::new(Session { http, ready: false }));
        }
        // Reversed so that sequential work keeps reusing session 0 (one login).
        let free = (0..cfg.sessions).rev().collect();
        Ok(LucaClient {
            cfg: cfg.clone(),
            sessions,
            free: StdMutex::new(free),
            permits: Semaphore::new(cfg.sessions),
            login_failures: AtomicU32::new(0),
            max_attempts: max_attempts.max(1),
            counters,
        })
    }

    /// How many sessions pushes may use at once.
    pub fn sessions(&self) -> usize {
        self.sessions.len()
    }

    async fn take(&self) -> Taken<'_> {
        let permit = self
            .permits
            .acquire()
            .await
            .expect("the pool is never closed");
        let index = self
            .free
            .lock()
            .expect("session pool")
            .pop()
            .expect("a permit means a free session");
        Taken {
            client: self,
            index,
            _permit: permit,
        }
    }

    /// A read (list, lookup): retried on transient failures, re-logged once on a lost
    /// session. A business error or a non-list answer to a list is an error, never an
    /// empty result.
    pub async fn read(&self, endpoint: &str, body: &Value) -> Result<Value, Error> {
        let taken = self.take().await;
        let mut session = self.sessions[taken.index].lock().await;
        let (bytes, content_type) =
            encode_body(body, self.cfg.request_charset).map_err(Error::Unencodable)?;
        let mut backoff = crate::backoff::Backoff::default();
        let mut failures = 0;
        let mut relogged = false;
        loop {
            self.ensure_ready(&mut session).await?;
            let last = match self.send(&session, endpoint, &bytes, content_type).await {
                Err(e) => e,
                Ok((status, text)) => match classify(status, &text) {
                    Answer::Ok(v) => return Ok(v),
                    Answer::Rejected(message) | Answer::Exists(message) => {
                        return Err(Error::Refused {
                            endpoint: endpoint.to_string(),
                            message,
                        });
                    }
                    Answer::SessionLost(why) | Answer::Html(why) if !relogged => {
                        tracing::info!("Luca session lost on {endpoint} ({why}); logging in again");
                        session.ready = false;
                        relogged = true;
                        continue;
                    }
                    Answer::SessionLost(why) | Answer::Html(why) | Answer::Ambiguous(why) => why,
                },
            };
            failures += 1;
            if failures >= self.max_attempts {
                return Err(Error::Unavailable {
                    endpoint: endpoint.to_string(),
                    attempts: failures,
                    last,
                });
            }
            let delay = backoff.next_delay();
            tracing::warn!(
                "Luca {endpoint} failed ({last}); retry {failures}/{} in {:.1}s",
                self.max_attempts - 1,
                delay.as_secs_f64()
            );
            tokio::time::sleep(delay).await;
        }
    }

    /// A read of a list: the items, wherever the answer keeps them.
    pub async fn list(&self, endpoint: &str, body: &Value) -> Result<Vec<Value>, Error> {
        let answer = self.read(endpoint, body).await?;
        list_items(&answer).cloned().ok_or_else(|| Error::NotAList {
            endpoint: endpoint.to_string(),
            detail: excerpt(&answer.to_string()),
        })
    }

    /// A write (create, delete), sent once. The only resend is after Luca said "not
    /// logged in" in JSON, which it says before running anything.
    pub async fn write_once(&self, endpoint: &str, body: &Value) -> Result<Outcome, Error> {
        let (bytes, content_type) =
            encode_body(body, self.cfg.request_charset).map_err(Error::Unencodable)?;
        let taken = self.take().await;
        let mut session = self.sessions[taken.index].lock().await;
        let mut relogged = false;
        loop {
            self.ensure_ready(&mut session).await?;
            let outcome = match self.send(&session, endpoint, &bytes, content_type).await {
                Err(why) => Outcome::Unknown(why),
                Ok((status, text)) => match classify(status, &text) {
                    Answer::Ok(v) => Outcome::Done(v),
                    Answer::Exists(m) => Outcome::Exists(m),
                    Answer::Rejected(m) => Outcome::Rejected(m),
                    Answer::SessionLost(why) if !relogged => {
                        tracing::info!("Luca session lost on {endpoint} ({why}); logging in again");
                        session.ready = false;
                        relogged = true;
                        continue;
                    }
                    Answer::SessionLost(why) | Answer::Html(why) | Answer::Ambiguous(why) => {
                        // An HTML page may be the login page or a crash after the insert.
                        session.ready = false;
                        Outcome::Unknown(why)
                    }
                },
            };
            return Ok(outcome);
        }
    }

    /// A read-only check of the login and branch (for `doctor`).
    pub async fn probe(&self) -> Result<(), Error> {
        let taken = self.take().await;
        let mut session = self.sessions[taken.index].lock().await;
        self.ensure_ready(&mut session).await
    }

    async fn send(
        &self,
        session: &Session,
        endpoint: &str,
        body: &[u8],
        content_type: &'static str,
    ) -> Result<(u16, String), String> {
        let url = format!("{}/{}", self.cfg.base_url, endpoint);
        self.counters.luca.fetch_add(1, Ordering::Relaxed);
        let sent = session
            .http
            .post(&url)
            .header(CONTENT_TYPE, HeaderValue::from_static(content_type))
            .header("No-Paging", "true")
            .body(body.to_vec())
            .send()
            .await;
        let resp = sent.map_err(|e| crate::net::transport_error(&e))?;
        let status = resp.status().as_u16();
        let bytes = resp
            .bytes()
            .await
            .map_err(|e| format!("the answer broke off ({})", crate::net::root_cause(&e)))?;
        Ok((status, String::from_utf8_lossy(&bytes).into_owned()))
    }

    /// Logs the session in and selects the branch, if it is not ready.
    async fn ensure_ready(&self, session: &mut Session) -> Result<(), Error> {
        if session.ready {
            return Ok(());
        }
        match self.login(session).await {
            Ok(()) => {
                self.login_failures.store(0, Ordering::Relaxed);
                session.ready = true;
                Ok(())
            }
            Err(e) => {
                let n = self.login_failures.fetch_add(1, Ordering::Relaxed) + 1;
                if n >= MAX_LOGIN_FAILURES && !e.is_fatal() {
                    return Err(Error::Unavailable {
                        endpoint: "Giris.do".into(),
                        attempts: n,
                        last: e.to_string(),
                    });
                }
                Err(e)
            }
        }
    }

    async fn login(&self, session: &Session) -> Result<(), Error> {
        let unavailable = |endpoint: &str, last: String| Error::Unavailable {
            endpoint: endpoint.to_string(),
            attempts: 1,
            last,
        };
        // The login body carries the password: it is built here, sent, and never logged.
        let body = json!({
            "orgCode": self.cfg.org_code,
            "userName": self.cfg.username,
            "userPassword": self.cfg.password.expose_secret(),
        })
        .to_string();
        let (status, text) = self
            .send(
                session,
                "Giris.do",
                body.as_bytes(),
                "application/json; charset=utf-8",
            )
            .await
            .map_err(|e| unavailable("Giris.do", e))?;
        match serde_json::from_str::<Value>(text.trim()) {
            Ok(v) if v.get("code").and_then(Value::as_i64) == Some(0) => {}
            Ok(v) if v.get("code").and_then(Value::as_i64) == Some(99) => {
                return Err(Error::Auth {
                    org_code: self.cfg.org_code.clone(),
                    user: self.cfg.username.clone(),
                    password_source: self.cfg.password_source,
                    detail: v
                        .get("message")
                        .and_then(Value::as_str)
                        .unwrap_or("wrong user or password")
                        .to_string(),
                });
            }
            _ => {
                return Err(unavailable(
                    "Giris.do",
                    format!("HTTP {status}: {}", excerpt(&text)),
                ));
            }
        }

        let (status, text) = self
            .send(
                session,
                "YdlUserResponsibilityOrgSs.do",
                b"{}",
                "application/json; charset=utf-8",
            )
            .await
            .map_err(|e| unavailable("YdlUserResponsibilityOrgSs.do", e))?;
        let branches: Vec<(i64, String)> = match classify(status, &text) {
            Answer::Ok(v) => list_items(&v)
                .map(|items| {
                    items
                        .iter()
                        .filter_map(|b| {
                            Some((
                                id_field(b, &["id", "orgSirketSubeId"])?,
                                text_field(b, &["ack"]).unwrap_or("").to_string(),
                            ))
                        })
                        .collect()
                })
                .unwrap_or_default(),
            other => {
                return Err(unavailable(
                    "YdlUserResponsibilityOrgSs.do",
                    format!("{other:?}"),
                ));
            }
        };
        let branch = if self.cfg.branch_id == 0 {
            branches.first().map(|(id, _)| *id)
        } else {
            branches
                .iter()
                .find(|(id, _)| *id == self.cfg.branch_id)
                .map(|(id, _)| *id)
        };
        let Some(branch) = branch else {
            return Err(Error::NoSuchBranch {
                wanted: self.cfg.branch_id,
                available: if branches.is_empty() {
                    "none listed".into()
                } else {
                    branches
                        .iter()
                        .map(|(id, name)| format!("{id} {name}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                },
            });
        };
        let body = json!({ "orgSirketSubeId": branch }).to_string();
        let (status, text) = self
            .send(
                session,
                "GuncelleYtkSirketSubeDegistir.do",
                body.as_bytes(),
                "application/json; charset=utf-8",
            )
            .await
            .map_err(|e| unavailable("GuncelleYtkSirketSubeDegistir.do", e))?;
        match classify(status, &text) {
            Answer::Ok(_) => {
                tracing::debug!(branch, "Luca session ready");
                Ok(())
            }
            other => Err(unavailable(
                "GuncelleYtkSirketSubeDegistir.do",
                format!("{other:?}"),
            )),
        }
    }
}
