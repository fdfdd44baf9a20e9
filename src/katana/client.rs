//! The Katana REST client: bearer auth, the rate limiter, GETs retried on transient
//! failures with full-jitter backoff, and list pages with their `X-Pagination` header.
//! Katana is only ever read: this client has no write methods.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header::{AUTHORIZATION, HeaderMap, HeaderValue};
use secrecy::ExposeSecret as _;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::limiter::{Limiter, now_ms};
use crate::config::{KatanaConfig, SecretSource};
use crate::error::Exit;
use crate::net::RequestCounters;

/// The longest server-requested wait (429 `Retry-After`, ratelimit reset) we sit out;
/// a longer one ends the pass and the next run carries on.
const MAX_SERVER_WAIT: Duration = Duration::from_secs(120);
/// Consecutive 429s tolerated for one request before giving up.
const MAX_429: u32 = 10;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(
        "Katana rejected the API key (HTTP {status}; the key came from {key_source}): set a valid key \
         in `katana.api_key` or KATANA_API_KEY (Katana: Settings → API)"
    )]
    Auth {
        status: u16,
        key_source: SecretSource,
    },

    #[error(
        "Katana stayed unavailable for GET {path} after {attempts} attempt(s): {last}; nothing was \
         lost, the next run carries on from the last saved watermark"
    )]
    Unavailable {
        path: String,
        attempts: u32,
        last: String,
    },

    #[error("Katana answered HTTP {status} to GET {path}: {message}")]
    Rejected {
        status: u16,
        path: String,
        message: String,
    },
}

impl Error {
    pub fn exit(&self) -> Exit {
        match self {
            Error::Auth { .. } => Exit::AuthRejected,
            Error::Unavailable { .. } => Exit::Unavailable,
            Error::Rejected { .. } => Exit::Internal,
        }
    }
}

/// `X-Pagination`, whose values arrive as strings ("8", "false") or as numbers/booleans.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Pagination {
    pub total_records: Option<u64>,
    pub total_pages: Option<u64>,
    pub page: Option<u64>,
    pub last_page: Option<bool>,
}

impl Pagination {
    pub fn parse(header: &str) -> Pagination {
        let Ok(Value::Object(map)) = serde_json::from_str::<Value>(header) else {
            return Pagination::default();
        };
        let num = |k: &str| match map.get(k) {
            Some(Value::Number(n)) => n.as_u64(),
            Some(Value::String(s)) => s.trim().parse().ok(),
            _ => None,
        };
        let flag = |k: &str| match map.get(k) {
            Some(Value::Bool(b)) => Some(*b),
            Some(Value::String(s)) => match s.trim() {
                "true" => Some(true),
                "false" => Some(false),
                _ => None,
            },
            _ => None,
        };
        Pagination {
            total_records: num("total_records"),
            total_pages: num("total_pages"),
            page: num("page"),
            last_page: flag("last_page"),
        }
    }
}

/// One page of a list endpoint, its records as `R`: a `Value` each, or (for a pull that
/// stores what Katana sent) each record's text as a `Box<RawValue>`, which costs no tree
/// of values to build and none to serialise again.
#[derive(Debug)]
pub struct Page<R = Value> {
    pub records: Vec<R>,
    pub pagination: Pagination,
}

/// The list endpoints that hide archived records unless `include_archived=true`.
const ARCHIVABLE: [&str; 2] = ["/products", "/variants"];

pub struct KatanaClient {
    http: reqwest::Client,
    base: String,
    auth: HeaderValue,
    key_source: SecretSource,
    limiter: Limiter,
    max_attempts: u32,
    pub page_size: u32,
    counters: Arc<RequestCounters>,
}

impl KatanaClient {
    pub fn new(
        cfg: &KatanaConfig,
        max_attempts: u32,
        limiter: Limiter,
        counters: Arc<RequestCounters>,
    ) -> anyhow::Result<KatanaClient> {
        let mut auth = HeaderValue::from_str(&format!("Bearer {}", cfg.api_key.expose_secret()))
            .map_err(|_| {
                crate::error::Error::config(
                    "`katana.api_key` holds characters an HTTP header cannot carry",
                )
            })?;
        // Marked sensitive so that no Debug output of a request ever shows the key.
        auth.set_sensitive(true);
        let http = reqwest::Client::builder()
            .timeout(cfg.timeout)
            .connect_timeout(Duration::from_secs(10))
            .user_agent(concat!("katana-sync/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(KatanaClient {
            http,
            base: cfg.base_url.clone(),
            auth,
            key_source: cfg.api_key_source,
            limiter,
            max_attempts: max_attempts.max(1),
            page_size: cfg.page_size,
            counters,
        })
    }

    /// One page of a list endpoint (`limit = page_size`; archived records included where
    /// Katana would hide them).
    pub async fn page(
        &self,
        path: &str,
        query: &[(&str, String)],
        page: u32,
    ) -> Result<Page, Error> {
        self.page_of(path, query, page).await
    }

    /// [`KatanaClient::page`] with the records decoded as `R`.
    pub async fn page_of<R: DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, String)],
        page: u32,
    ) -> Result<Page<R>, Error> {
        let mut q: Vec<(&str, String)> = query.to_vec();
        // Katana hides archived products and variants unless asked; an order row on an
        // archived variant must still find its variant, so every read of them asks.
        if ARCHIVABLE.contains(&path) && !q.iter().any(|(k, _)| *k == "include_archived") {
            q.push(("include_archived", "true".into()));
        }
        q.push(("limit", self.page_size.to_string()));
        q.push(("page", page.to_string()));
        let (records, headers) = self
            .fetch(path, &q, self.max_attempts, list_records::<R>)
            .await?;
        let pagination = headers
            .get("x-pagination")
            .and_then(|v| v.to_str().ok())
            .map(Pagination::parse)
            .unwrap_or_default();
        let records = records.ok_or_else(|| Error::Rejected {
            status: 200,
            path: path.to_string(),
            message: "the answer has no `data` list".into(),
        })?;
        Ok(Page {
            records,
            pagination,
        })
    }

    /// Records by id (`ids=1&ids=2…`), for references the store does not know yet.
    pub async fn by_ids(&self, path: &str, ids: &[i64]) -> Result<Vec<Value>, Error> {
        let mut out = Vec::new();
        // One page per chunk: a chunk larger than a page would lose the rest.
        for chunk in ids.chunks(50.min(self.page_size.max(1) as usize)) {
            let mut q: Vec<(&str, String)> =
                chunk.iter().map(|id| ("ids", id.to_string())).collect();
            q.push(("include_deleted", "true".into()));
            let page = self.page(path, &q, 1).await?;
            out.extend(page.records);
        }
        Ok(out)
    }

    /// A read-only probe of the credentials (for `doctor`): one attempt, no retries.
    pub async fn probe(&self) -> Result<(), Error> {
        self.get_with("/locations", &[("limit", "1".to_string())], 1)
            .await
            .map(|_| ())
    }

    pub fn flush_rate_log(&self) {
        self.limiter.flush();
    }

    /// A GET, paced by the limiter, retried on transient failures.
    async fn get_with(
        &self,
        path: &str,
        query: &[(&str, String)],
        max_attempts: u32,
    ) -> Result<(Value, HeaderMap), Error> {
        self.fetch(path, query, max_attempts, |body| {
            serde_json::from_slice(body).map_err(|e| e.to_string())
        })
        .await
    }

    /// A GET, paced and retried; a success whose body `read` cannot read is retried too.
    async fn fetch<T>(
        &self,
        path: &str,
        query: &[(&str, String)],
        max_attempts: u32,
        read: impl Fn(&[u8]) -> Result<T, String>,
    ) -> Result<(T, HeaderMap), Error> {
        let url = format!("{}{}", self.base, path);
        let mut backoff = crate::backoff::Backoff::default();
        let mut failures = 0u32;
        let mut throttled = 0u32;
        loop {
            self.limiter.acquire().await;
            self.counters.katana.fetch_add(1, Ordering::Relaxed);
            let sent = self
                .http
                .get(&url)
                .header(AUTHORIZATION, self.auth.clone())
                .query(query)
                .send()
                .await;
            let last = match sent {
                Ok(resp) => {
                    let status = resp.status();
                    let headers = resp.headers().clone();
                    self.observe_rate_headers(&headers);
                    match status {
                        s if s.is_success() => {
                            match resp
                                .bytes()
                                .await
                                .map_err(|e| e.to_string())
                                .and_then(|b| read(&b))
                            {
                                Ok(body) => return Ok((body, headers)),
                                Err(e) => format!("unreadable answer ({e})"),
                            }
                        }
                        StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => {
                            return Err(Error::Auth {
                                status: status.as_u16(),
                                key_source: self.key_source,
                            });
                        }
                        StatusCode::TOO_MANY_REQUESTS => {
                            throttled += 1;
                            let wait = retry_after(&headers).unwrap_or(Duration::from_secs(1));
                            if wait > MAX_SERVER_WAIT || throttled > MAX_429 {
                                return Err(Error::Unavailable {
                                    path: path.to_string(),
                                    attempts: failures + throttled,
                                    last: format!(
                                        "rate limited (429, Retry-After {}s)",
                                        wait.as_secs()
                                    ),
                                });
                            }
                            tracing::info!(
                                "Katana rate limit hit (429); waiting {:.1}s as asked",
                                wait.as_secs_f64()
                            );
                            self.limiter.block_until(now_ms() + wait.as_millis() as i64);
                            continue;
                        }
                        s if s.is_server_error() || s == StatusCode::REQUEST_TIMEOUT => {
                            format!("HTTP {}", s.as_u16())
                        }
                        s => {
                            let message = resp.text().await.unwrap_or_default();
                            return Err(Error::Rejected {
                                status: s.as_u16(),
                                path: path.to_string(),
                                message: error_message(&message),
                            });
                        }
                    }
                }
                Err(e) => crate::net::transport_error(&e),
            };
            failures += 1;
            if failures >= max_attempts {
                return Err(Error::Unavailable {
                    path: path.to_string(),
                    attempts: failures,
                    last,
                });
            }
            let delay = backoff.next_delay();
            tracing::warn!(
                "GET {path} failed ({last}); retry {failures}/{} in {:.1}s",
                max_attempts - 1,
                delay.as_secs_f64()
            );
            tokio::time::sleep(delay).await;
        }
    }

    fn observe_rate_headers(&self, headers: &HeaderMap) {
        let num = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<i64>().ok())
        };
        if num("x-ratelimit-remaining") == Some(0)
            && let Some(reset) = num("x-ratelimit-reset")
        {
            // Documented as milliseconds, shown in seconds in Katana's own example.
            let reset_ms = if reset < 1_000_000_000_000 {
                reset * 1000
            } else {
                reset
            };
            let until = reset_ms.min(now_ms() + MAX_SERVER_WAIT.as_millis() as i64);
            self.limiter.block_until(until);
        }
    }
}

/// `Retry-After` as seconds or an HTTP date.
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let v = headers.get("retry-after")?.to_str().ok()?.trim();
    if let Ok(secs) = v.parse::<f64>() {
        return Some(Duration::from_secs_f64(secs.max(0.0)));
    }
    let when = jiff::fmt::rfc2822::parse(v).ok()?.timestamp();
    let ms = when.as_millisecond() - now_ms();
    Some(Duration::from_millis(ms.max(0) as u64))
}

/// Katana's error body, wrapped in `error` or not.
fn error_message(body: &str) -> String {
    let v: Value = match serde_json::from_str(body) {
        Ok(v) => v,
        Err(_) => return body.chars().take(200).collect(),
    };
    let e = v.get("error").unwrap_or(&v);
    e.get("message")
        .and_then(Value::as_str)
        .map(str::to_string)
        .unwrap_or_else(|| e.to_string().chars().take(200).collect())
}

/// The records of a list answer: `{"data": [...]}`, or a bare array. `None`: JSON
/// without such a list (an answer, not a transient fault); `Err`: not readable as JSON.
fn list_records<R: DeserializeOwned>(body: &[u8]) -> Result<Option<Vec<R>>, String> {
    #[derive(serde::Deserialize)]
    struct Wrapped<R> {
        data: Vec<R>,
    }
    let listed = match body.iter().find(|b| !b.is_ascii_whitespace()) {
        Some(b'[') => serde_json::from_slice::<Vec<R>>(body),
        _ => serde_json::from_slice::<Wrapped<R>>(body).map(|w| w.data),
    };
    match listed {
        Ok(items) => Ok(Some(items)),
        Err(e) => match serde_json::from_slice::<serde::de::IgnoredAny>(body) {
            Ok(_) => Ok(None),
            Err(_) => Err(e.to_string()),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pagination_strings_and_numbers() {
        let p = Pagination::parse(
            r#"{"total_records":"142","total_pages":"8","offset":"50","page":"2","first_page":"false","last_page":"false"}"#,
        );
        assert_eq!(p.total_records, Some(142));
        assert_eq!(p.total_pages, Some(8));
        assert_eq!(p.page, Some(2));
        assert_eq!(p.last_page, Some(false));
        let p =
            Pagination::parse(r#"{"total_records":3,"total_pages":1,"page":1,"last_page":true}"#);
        assert_eq!((p.total_pages, p.last_page), (Some(1), Some(true)));
        assert_eq!(Pagination::parse("garbage"), Pagination::default());
    }

    #[test]
    fn katana_error_bodies_wrapped_or_not() {
        assert_eq!(
            error_message(r#"{"error":{"statusCode":422,"message":"bad"}}"#),
            "bad"
        );
        assert_eq!(
            error_message(r#"{"statusCode":404,"name":"NotFoundError","message":"Not found"}"#),
            "Not found"
        );
    }

    #[test]
    fn retry_after_seconds_or_date() {
        let mut h = HeaderMap::new();
        h.insert("retry-after", HeaderValue::from_static("3"));
        assert_eq!(retry_after(&h), Some(Duration::from_secs(3)));
        h.insert(
            "retry-after",
            HeaderValue::from_static("Wed, 21 Oct 2015 07:28:00 GMT"),
        );
        assert_eq!(
            retry_after(&h),
            Some(Duration::ZERO),
            "a past date means now"
        );
    }
}
