//! The Luca Koza client: a pool of logged-in sessions (each its own cookie jar, logged
//! in with `Giris.do` and switched to the configured branch), one request at a time per
//! session. Reads, the login and the branch calls are retried (re-login once on a lost
//! session, full-jitter backoff and `Retry-After` on transient failures); a create is
//! sent exactly once and its outcome classified, never retried here: an unclear outcome
//! goes back to the outbox as unknown.
//!
//! Luca may let a user hold only one session (a new login ends the others): the pool
//! notices a session lost right after another of its sessions logged in, and shrinks.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::Mutex as StdMutex;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use reqwest::header::{CONTENT_TYPE, HeaderValue};
use secrecy::ExposeSecret as _;
use serde_json::{Value, json};
use tokio::sync::{Mutex, Semaphore};

use super::answer::{Answer, Wrapper, classify, id_field, list_items, text_field};
use super::charset::encode_body;
use crate::config::{LucaConfig, SecretSource};
use crate::error::Exit;
use crate::net::RequestCounters;

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

    /// The configured branch is not listed, or `branch_id = 0` while several are.
    #[error("{detail}")]
    NoSuchBranch { wanted: i64, detail: String },

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
    #[error("Luca's answer to {endpoint} could not be read as a list: {detail}")]
    NotAList { endpoint: String, detail: String },

    #[error("{0}")]
    Unencodable(String),

    /// The session was ended while it was logging in (another login of the same user,
    /// where Luca allows one session per user): the login starts over.
    #[error("Luca ended the session while it was logging in ({0})")]
    SessionEnded(String),
}

impl Error {
    pub fn exit(&self) -> Exit {
        match self {
            Error::Auth { .. } => Exit::AuthRejected,
            Error::NoSuchBranch { .. } => Exit::Config,
            Error::Unavailable { .. }
            | Error::Refused { .. }
            | Error::NotAList { .. }
            | Error::SessionEnded(_) => Exit::Unavailable,
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
    /// Luca did it and said so without any error signal; its answer (which, for a
    /// create, the caller still checks for the new id).
    Done(Value),
    /// Luca says it already exists.
    Exists(String),
    /// Luca refused it (a business error): nothing was created.
    Rejected(String),
    /// No clear answer (timeout, reset, 5xx, HTML page, a lost session): it may or may
    /// not exist now.
    Unknown(String),
}

struct Session {
    http: reqwest::Client,
    ready: bool,
    /// The pool's login number of this session's last login (0: never logged in).
    login_no: u64,
}

/// One answer as it came.
struct Reply {
    status: u16,
    text: String,
    retry_after: Option<Duration>,
}

/// How a login step's answer is judged.
enum Step<T> {
    Done(T),
    /// Transient: try again (with the reason, for the message if it stays so).
    Retry(String),
    Fail(Error),
}

/// Attempts and timeout of an idempotent call.
#[derive(Clone, Copy)]
struct Policy {
    attempts: u32,
    timeout: Option<Duration>,
}

pub struct LucaClient {
    cfg: LucaConfig,
    sessions: Vec<Mutex<Session>>,
    free: StdMutex<Vec<usize>>,
    permits: Semaphore,
    /// Sessions to retire as soon as they come back to the pool.
    excess: AtomicUsize,
    in_use: AtomicUsize,
    logins: AtomicU64,
    /// Set when the pool saw a session end right after another of its logins.
    single_login: AtomicBool,
    /// Set when a suspected single-login limit was checked and is not one (this run).
    several_verified: AtomicBool,
    /// One check of the sessions per user at a time.
    verifying: Mutex<()>,
    /// One login sequence at a time: where a login ends the user's other sessions,
    /// interleaved sequences would end each other halfway, again and again.
    login_gate: Mutex<()>,
    login_failures: AtomicU32,
    max_attempts: u32,
    counters: Arc<RequestCounters>,
    /// The wrapper each list endpoint answered with (for `doctor --probe`).
    wrappers: StdMutex<BTreeMap<String, Wrapper>>,
    /// The wrapper key each endpoint is known to use (learnt by the probe).
    known_wrappers: StdMutex<BTreeMap<String, String>>,
}

/// A session taken from the pool; it goes back when dropped (or is retired, when the
/// pool is shrinking).
struct Taken<'a> {
    client: &'a LucaClient,
    index: usize,
    permit: Option<tokio::sync::SemaphorePermit<'a>>,
}

impl Drop for Taken<'_> {
    fn drop(&mut self) {
        let retire = self
            .client
            .excess
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok();
        if retire {
            if let Some(p) = self.permit.take() {
                p.forget();
            }
            self.client.in_use.fetch_sub(1, Ordering::SeqCst);
            return;
        }
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
            sessions.push(Mutex::new(Session {
                http,
                ready: false,
                login_no: 0,
            }));
        }
        // Reversed so that sequential work keeps reusing session 0 (one login).
        let free = (0..cfg.sessions).rev().collect();
        Ok(LucaClient {
            cfg: cfg.clone(),
            sessions,
            free: StdMutex::new(free),
            permits: Semaphore::new(cfg.sessions),
            excess: AtomicUsize::new(0),
            in_use: AtomicUsize::new(cfg.sessions),
            logins: AtomicU64::new(0),
            single_login: AtomicBool::new(false),
            several_verified: AtomicBool::new(false),
            verifying: Mutex::new(()),
            login_gate: Mutex::new(()),
            login_failures: AtomicU32::new(0),
            max_attempts: max_attempts.max(1),
            counters,
            wrappers: StdMutex::new(BTreeMap::new()),
            known_wrappers: StdMutex::new(BTreeMap::new()),
        })
    }

    /// How many sessions pushes may use at once (fewer than configured once the pool
    /// has shrunk).
    pub fn sessions(&self) -> usize {
        self.in_use
            .load(Ordering::SeqCst)
            .saturating_sub(self.excess.load(Ordering::SeqCst))
            .max(1)
    }

    /// The configured number of sessions.
    pub fn configured_sessions(&self) -> usize {
        self.sessions.len()
    }

    /// True once the pool has seen Luca end a session because another logged in.
    pub fn saw_single_login(&self) -> bool {
        self.single_login.load(Ordering::SeqCst)
    }

    /// The list wrappers seen so far, per endpoint.
    pub fn wrappers_seen(&self) -> BTreeMap<String, Wrapper> {
        self.wrappers.lock().expect("wrappers").clone()
    }

    /// Reads `endpoint`'s lists under `key` from now on, even when its answer holds other
    /// arrays too (a wrapper learnt by `doctor --probe`).
    pub fn learn_wrapper(&self, endpoint: &str, key: &str) {
        self.known_wrappers
            .lock()
            .expect("wrappers")
            .insert(endpoint.to_string(), key.to_string());
    }

    /// Uses at most `n` sessions from now on (a limit learnt earlier).
    pub fn limit_sessions(&self, n: usize) {
        let n = n.max(1);
        let current = self.sessions();
        if current <= n {
            return;
        }
        self.excess.fetch_add(current - n, Ordering::SeqCst);
        // Idle sessions retire at once; busy ones when they come back.
        while self.excess.load(Ordering::SeqCst) > 0 {
            let Ok(permit) = self.permits.try_acquire() else {
                break;
            };
            let index = self.free.lock().expect("session pool").pop();
            if index.is_none() {
                drop(permit);
                break;
            }
            drop(Taken {
                client: self,
                index: index.unwrap_or_default(),
                permit: Some(permit),
            });
        }
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
            permit: Some(permit),
        }
    }

    /// A session lost: may it have been ended by a later login of another session of
    /// this pool? True unless that is ruled out, so that a write that met the loss is
    /// never re-sent because of it. A loss after another login is only a suspicion
    /// (sessions also just expire), so it is checked once per run: this session logs in
    /// again, a spare session logs in, and this one is asked for its branch list. Lost
    /// again: one session per user, and the pool shrinks to one. Leaves the session not
    /// ready either way.
    async fn note_loss(&self, session: &mut Session) -> bool {
        session.ready = false;
        let later_login = self.logins.load(Ordering::SeqCst) > session.login_no;
        if self.single_login.load(Ordering::SeqCst) {
            return true;
        }
        if self.sessions() < 2 || session.login_no == 0 || !later_login {
            return false;
        }
        if self.several_verified.load(Ordering::SeqCst) {
            return false;
        }
        // While another task checks, the cause cannot be told yet.
        let Ok(_turn) = self.verifying.try_lock() else {
            return true;
        };
        if self.several_verified.load(Ordering::SeqCst) {
            return false;
        }
        if self.single_login.load(Ordering::SeqCst) {
            return true;
        }
        let verdict = self.check_with_spare(session).await;
        session.ready = false;
        match verdict {
            Ok(false) => {
                tracing::warn!(
                    "Luca ended a session right after another session of this user logged in: \
                     it allows one session per user; carrying on with one"
                );
                true
            }
            Ok(true) => {
                self.several_verified.store(true, Ordering::SeqCst);
                false
            }
            Err(e) => {
                tracing::debug!("checking the sessions per user failed: {e}");
                true
            }
        }
    }

    /// A read (list, lookup): retried on transient failures, re-logged once on a lost
    /// session. A business error or a non-list answer to a list is an error, never an
    /// empty result.
    /// Every idempotent call: `max_attempts`, the client's own timeout.
    fn default_policy(&self) -> Policy {
        Policy {
            attempts: self.max_attempts,
            timeout: None,
        }
    }

    pub async fn read(&self, endpoint: &str, body: &Value) -> Result<Value, Error> {
        let policy = self.default_policy();
        self.read_with(endpoint, body, policy).await
    }

    async fn read_with(
        &self,
        endpoint: &str,
        body: &Value,
        policy: Policy,
    ) -> Result<Value, Error> {
        let taken = self.take().await;
        let mut session = self.sessions[taken.index].lock().await;
        let (bytes, content_type) =
            encode_body(body, self.cfg.request_charset).map_err(Error::Unencodable)?;
        let mut backoff = crate::backoff::Backoff::default();
        let mut failures = 0;
        let mut relogged = false;
        loop {
            self.ensure_ready(&mut session).await?;
            let (last, retry_after) = match self
                .send(&session, endpoint, &bytes, content_type, policy.timeout)
                .await
            {
                Err(e) => (e, None),
                Ok(reply) => match classify(reply.status, &reply.text) {
                    Answer::Ok(v) => return Ok(v),
                    Answer::Rejected(message) | Answer::Exists(message) => {
                        return Err(Error::Refused {
                            endpoint: endpoint.to_string(),
                            message,
                        });
                    }
                    // An HTML page with 200 may be what an expired session gets.
                    a @ (Answer::SessionLost(_)
                    | Answer::LoginPage(_)
                    | Answer::Html { status: 200, .. })
                        if !relogged =>
                    {
                        tracing::info!("Luca session lost on {endpoint} ({a}); logging in again");
                        self.note_loss(&mut session).await;
                        relogged = true;
                        continue;
                    }
                    a => (a.to_string(), reply.retry_after),
                },
            };
            failures += 1;
            give_up_or_wait(endpoint, policy, failures, last, retry_after, &mut backoff).await?;
        }
    }

    /// A read of a list: the items, wherever the answer keeps them.
    pub async fn list(&self, endpoint: &str, body: &Value) -> Result<Vec<Value>, Error> {
        let answer = self.read(endpoint, body).await?;
        self.items(endpoint, &answer)
    }

    /// A listing slow by nature (a whole catalogue, or a wide code range): its own,
    /// longer timeout, and at most one retry, since each attempt may take minutes.
    pub async fn list_slow(&self, endpoint: &str, body: &Value) -> Result<Vec<Value>, Error> {
        let policy = Policy {
            attempts: self.max_attempts.min(2),
            timeout: Some(self.cfg.listing_timeout),
        };
        let answer = self.read_with(endpoint, body, policy).await?;
        self.items(endpoint, &answer)
    }

    fn items(&self, endpoint: &str, answer: &Value) -> Result<Vec<Value>, Error> {
        let known = self
            .known_wrappers
            .lock()
            .expect("wrappers")
            .get(endpoint)
            .cloned();
        if let Some(items) = known
            .as_ref()
            .and_then(|k| answer.get(k))
            .and_then(Value::as_array)
        {
            return Ok(items.clone());
        }
        match list_items(answer) {
            Ok((wrapper, items)) => {
                self.wrappers
                    .lock()
                    .expect("wrappers")
                    .insert(endpoint.to_string(), wrapper);
                Ok(items.clone())
            }
            Err(detail) => Err(Error::NotAList {
                endpoint: endpoint.to_string(),
                detail,
            }),
        }
    }

    /// A write (create, delete), sent once. The only resend is after Luca said "not
    /// logged in" in JSON, which it says before running anything, and only when the
    /// loss is not another login of this pool ending the session (then the write is
    /// left unknown, to be looked up, never re-sent because of it).
    pub async fn write_once(&self, endpoint: &str, body: &Value) -> Result<Outcome, Error> {
        let (bytes, content_type) =
            encode_body(body, self.cfg.request_charset).map_err(Error::Unencodable)?;
        let taken = self.take().await;
        let mut session = self.sessions[taken.index].lock().await;
        let mut relogged = false;
        loop {
            self.ensure_ready(&mut session).await?;
            let outcome = match self
                .send(&session, endpoint, &bytes, content_type, None)
                .await
            {
                Err(why) => Outcome::Unknown(why),
                Ok(reply) => match classify(reply.status, &reply.text) {
                    Answer::Ok(v) => Outcome::Done(v),
                    Answer::Exists(m) => Outcome::Exists(m),
                    Answer::Rejected(m) => Outcome::Rejected(m),
                    Answer::SessionLost(why) => {
                        let ended_by_login = self.note_loss(&mut session).await;
                        if relogged || ended_by_login {
                            Outcome::Unknown(format!(
                                "not logged in ({why}){}",
                                if ended_by_login {
                                    "; another login of the same user may have ended the session"
                                } else {
                                    ""
                                }
                            ))
                        } else {
                            tracing::info!(
                                "Luca session lost on {endpoint} ({why}); logging in again"
                            );
                            relogged = true;
                            continue;
                        }
                    }
                    // The write may have run before the session went.
                    a @ Answer::LoginPage(_) => {
                        self.note_loss(&mut session).await;
                        Outcome::Unknown(a.to_string())
                    }
                    // A crash page says nothing about the session: it stays as it is.
                    a @ (Answer::Html { .. } | Answer::Ambiguous(_)) => {
                        Outcome::Unknown(a.to_string())
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

    /// Whether Luca lets this user hold two sessions at once: logs two sessions in,
    /// then asks the first for its branch list. `Ok(false)` when the first was ended by
    /// the second login (the pool then carries on with one).
    pub async fn several_sessions_allowed(&self) -> Result<bool, Error> {
        if self.sessions.len() < 2 {
            return self.check_two_sessions_apart().await;
        }
        let first = self.take().await;
        let second = self.take().await;
        let mut a = self.sessions[first.index].lock().await;
        let mut b = self.sessions[second.index].lock().await;
        self.ensure_ready(&mut a).await?;
        b.ready = false;
        self.ensure_ready(&mut b).await?;
        self.still_logged_in(&mut a).await
    }

    /// With a pool of one, the check uses a spare session outside the pool.
    async fn check_two_sessions_apart(&self) -> Result<bool, Error> {
        let taken = self.take().await;
        let mut a = self.sessions[taken.index].lock().await;
        self.check_with_spare(&mut a).await
    }

    /// Logs `a` in, then a spare session outside the pool, then asks `a` again.
    async fn check_with_spare(&self, a: &mut Session) -> Result<bool, Error> {
        self.ensure_ready(a).await?;
        let mut b = Session {
            http: self.http_client().map_err(|e| Error::Unavailable {
                endpoint: "Giris.do".into(),
                attempts: 0,
                last: e.to_string(),
            })?,
            ready: false,
            login_no: 0,
        };
        self.ensure_ready(&mut b).await?;
        self.still_logged_in(a).await
    }

    async fn still_logged_in(&self, a: &mut Session) -> Result<bool, Error> {
        let endpoint = "YdlUserResponsibilityOrgSs.do";
        let policy = self.default_policy();
        let verdict = self
            .step(a, endpoint, b"{}", policy, |reply| {
                match classify(reply.status, &reply.text) {
                    Answer::Ok(_) => Step::Done(true),
                    Answer::SessionLost(_) | Answer::LoginPage(_) => Step::Done(false),
                    other => Step::Retry(other.to_string()),
                }
            })
            .await?;
        if !verdict {
            a.ready = false;
            self.single_login.store(true, Ordering::SeqCst);
            self.limit_sessions(1);
        }
        Ok(verdict)
    }

    fn http_client(&self) -> reqwest::Result<reqwest::Client> {
        reqwest::Client::builder()
            .cookie_store(true)
            .timeout(self.cfg.timeout)
            .connect_timeout(Duration::from_secs(10))
            .user_agent(concat!("katana-sync/", env!("CARGO_PKG_VERSION")))
            .build()
    }

    async fn send(
        &self,
        session: &Session,
        endpoint: &str,
        body: &[u8],
        content_type: &'static str,
        timeout: Option<Duration>,
    ) -> Result<Reply, String> {
        let url = format!("{}/{}", self.cfg.base_url, endpoint);
        self.counters.luca.fetch_add(1, Ordering::Relaxed);
        let mut request = session
            .http
            .post(&url)
            .header(CONTENT_TYPE, HeaderValue::from_static(content_type))
            .header("No-Paging", "true")
            .body(body.to_vec());
        if let Some(t) = timeout {
            request = request.timeout(t);
        }
        let resp = request
            .send()
            .await
            .map_err(|e| crate::net::transport_error(&e))?;
        let status = resp.status().as_u16();
        let retry_after = resp
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(|s| Duration::from_secs(s.min(120)));
        let bytes = resp
            .bytes()
            .await
            .map_err(|e| format!("the answer broke off ({})", crate::net::root_cause(&e)))?;
        Ok(Reply {
            status,
            text: String::from_utf8_lossy(&bytes).into_owned(),
            retry_after,
        })
    }

    /// An idempotent call of the login sequence, retried like any read.
    async fn step<T>(
        &self,
        session: &Session,
        endpoint: &str,
        body: &[u8],
        policy: Policy,
        judge: impl Fn(&Reply) -> Step<T>,
    ) -> Result<T, Error> {
        let mut backoff = crate::backoff::Backoff::default();
        let mut failures = 0;
        loop {
            let (last, retry_after) = match self
                .send(
                    session,
                    endpoint,
                    body,
                    "application/json; charset=utf-8",
                    policy.timeout,
                )
                .await
            {
                Err(e) => (e, None),
                Ok(reply) => match judge(&reply) {
                    Step::Done(v) => return Ok(v),
                    Step::Fail(e) => return Err(e),
                    Step::Retry(why) => (why, reply.retry_after),
                },
            };
            failures += 1;
            give_up_or_wait(endpoint, policy, failures, last, retry_after, &mut backoff).await?;
        }
    }

    /// Logs the session in and selects the branch, if it is not ready.
    async fn ensure_ready(&self, session: &mut Session) -> Result<(), Error> {
        if session.ready {
            return Ok(());
        }
        let gate = self.login_gate.lock().await;
        // Counted when the login starts, not when it ends: Luca may end the other
        // sessions at `Giris.do`, before the branch is selected, and a session lost in
        // between must see that a later login of the pool exists.
        let login_no = self.logins.fetch_add(1, Ordering::SeqCst) + 1;
        let result = self.login(session).await;
        drop(gate);
        match result {
            Ok(()) => {
                self.login_failures.store(0, Ordering::Relaxed);
                session.login_no = login_no;
                session.ready = true;
                Ok(())
            }
            Err(e) => {
                let n = self.login_failures.fetch_add(1, Ordering::Relaxed) + 1;
                if n >= MAX_LOGIN_FAILURES && !e.is_fatal() {
                    return Err(match e {
                        Error::Unavailable { endpoint, last, .. } => Error::Unavailable {
                            endpoint,
                            attempts: n * self.max_attempts,
                            last,
                        },
                        other => other,
                    });
                }
                Err(e)
            }
        }
    }

    /// The branches this user may use, as (id, name).
    pub async fn branches(&self) -> Result<Vec<(i64, String)>, Error> {
        let taken = self.take().await;
        let mut session = self.sessions[taken.index].lock().await;
        self.ensure_ready(&mut session).await?;
        self.list_branches(&session).await
    }

    async fn list_branches(&self, session: &Session) -> Result<Vec<(i64, String)>, Error> {
        let endpoint = "YdlUserResponsibilityOrgSs.do";
        let policy = self.default_policy();
        let answer = self
            .step(session, endpoint, b"{}", policy, |reply| {
                match classify(reply.status, &reply.text) {
                    Answer::Ok(v) => Step::Done(v),
                    Answer::Rejected(m) | Answer::Exists(m) => Step::Fail(Error::Refused {
                        endpoint: endpoint.to_string(),
                        message: m,
                    }),
                    a @ (Answer::SessionLost(_) | Answer::LoginPage(_)) => {
                        Step::Fail(Error::SessionEnded(a.to_string()))
                    }
                    other => Step::Retry(other.to_string()),
                }
            })
            .await?;
        let items = self.items(endpoint, &answer)?;
        Ok(items
            .iter()
            .filter_map(|b| {
                Some((
                    id_field(b, &["id", "orgSirketSubeId"])?,
                    text_field(b, &["ack", "tanim", "sirketSubeAdi"])
                        .unwrap_or("")
                        .to_string(),
                ))
            })
            .collect())
    }

    /// Logs in and selects the branch; starts over when the session is ended halfway.
    async fn login(&self, session: &Session) -> Result<(), Error> {
        let mut backoff = crate::backoff::Backoff::default();
        let mut tries = 0;
        loop {
            tries += 1;
            match self.login_once(session).await {
                Err(Error::SessionEnded(why)) if tries < self.max_attempts => {
                    tracing::info!("{why}; logging in again");
                    tokio::time::sleep(backoff.next_delay() / 4).await;
                }
                Err(Error::SessionEnded(why)) => {
                    return Err(Error::Unavailable {
                        endpoint: "Giris.do".into(),
                        attempts: tries,
                        last: why,
                    });
                }
                other => return other,
            }
        }
    }

    async fn login_once(&self, session: &Session) -> Result<(), Error> {
        let policy = self.default_policy();
        // The login body carries the password: it is built here, sent, and never logged.
        let body = json!({
            "orgCode": self.cfg.org_code,
            "userName": self.cfg.username,
            "userPassword": self.cfg.password.expose_secret(),
        })
        .to_string();
        self.step(session, "Giris.do", body.as_bytes(), policy, |reply| {
            let value = serde_json::from_str::<Value>(reply.text.trim()).ok();
            let code = value
                .as_ref()
                .and_then(|v| v.get("code"))
                .and_then(Value::as_i64);
            match code {
                Some(0) => Step::Done(()),
                Some(99) => Step::Fail(Error::Auth {
                    org_code: self.cfg.org_code.clone(),
                    user: self.cfg.username.clone(),
                    password_source: self.cfg.password_source,
                    detail: value
                        .as_ref()
                        .and_then(|v| v.get("message"))
                        .and_then(Value::as_str)
                        .unwrap_or("wrong user or password")
                        .to_string(),
                }),
                _ => Step::Retry(classify(reply.status, &reply.text).to_string()),
            }
        })
        .await?;

        let branches = self.list_branches(session).await?;
        let listed = || {
            if branches.is_empty() {
                "none listed".to_string()
            } else {
                branches
                    .iter()
                    .map(|(id, name)| format!("{id} \"{name}\""))
                    .collect::<Vec<_>>()
                    .join(", ")
            }
        };
        let branch = match (self.cfg.branch_id, branches.as_slice()) {
            (0, [(id, _)]) => *id,
            (0, []) => {
                return Err(Error::NoSuchBranch {
                    wanted: 0,
                    detail: "Luca lists no branch for this user; give the user a company \
                             branch in Luca, then set `luca.branch_id`"
                        .into(),
                });
            }
            (0, _) => {
                // Posting to whichever branch comes first could book into another
                // company's ledger.
                return Err(Error::NoSuchBranch {
                    wanted: 0,
                    detail: format!(
                        "Luca lists several branches for this user ({}); set `luca.branch_id` \
                         to the one katana-sync must post to",
                        listed()
                    ),
                });
            }
            (wanted, _) if branches.iter().any(|(id, _)| *id == wanted) => wanted,
            (wanted, _) => {
                return Err(Error::NoSuchBranch {
                    wanted,
                    detail: format!(
                        "Luca branch {wanted} is not among the branches this user can use ({}); \
                         set `luca.branch_id` to one of them",
                        listed()
                    ),
                });
            }
        };
        let body = json!({ "orgSirketSubeId": branch }).to_string();
        let endpoint = "GuncelleYtkSirketSubeDegistir.do";
        self.step(
            session,
            endpoint,
            body.as_bytes(),
            policy,
            |reply| match classify(reply.status, &reply.text) {
                Answer::Ok(_) => Step::Done(()),
                a @ (Answer::SessionLost(_) | Answer::LoginPage(_)) => {
                    Step::Fail(Error::SessionEnded(a.to_string()))
                }
                Answer::Rejected(m) | Answer::Exists(m) => Step::Fail(Error::NoSuchBranch {
                    wanted: branch,
                    detail: format!(
                        "Luca refused to switch to branch {branch} ({m}); set `luca.branch_id` \
                         to one of: {}",
                        listed()
                    ),
                }),
                other => Step::Retry(other.to_string()),
            },
        )
        .await?;
        tracing::debug!(branch, "Luca session ready");
        Ok(())
    }
}

/// After a failed attempt of an idempotent call: the error once the attempts are spent,
/// else the wait (`Retry-After` when the server named one, full jitter otherwise).
async fn give_up_or_wait(
    endpoint: &str,
    policy: Policy,
    failures: u32,
    last: String,
    retry_after: Option<Duration>,
    backoff: &mut crate::backoff::Backoff,
) -> Result<(), Error> {
    if failures >= policy.attempts {
        return Err(Error::Unavailable {
            endpoint: endpoint.to_string(),
            attempts: failures,
            last,
        });
    }
    let delay = retry_after.unwrap_or_else(|| backoff.next_delay());
    tracing::warn!(
        "Luca {endpoint} failed ({last}); retry {failures}/{} in {:.1}s",
        policy.attempts - 1,
        delay.as_secs_f64()
    );
    tokio::time::sleep(delay).await;
    Ok(())
}
