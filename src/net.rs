//! What both remote clients share: transport errors in words an operator can act on,
//! and the counts of the requests they send.

use std::sync::atomic::{AtomicU64, Ordering};

/// Every HTTP request sent, retries and 429s included, per remote.
#[derive(Debug, Default)]
pub struct RequestCounters {
    pub katana: AtomicU64,
    pub luca: AtomicU64,
}

impl RequestCounters {
    pub fn snapshot(&self) -> crate::report::Requests {
        crate::report::Requests {
            katana: self.katana.load(Ordering::Relaxed),
            luca: self.luca.load(Ordering::Relaxed),
        }
    }
}

/// "timed out", "cannot connect (…)", "connection failed (…)".
pub fn transport_error(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        "timed out".into()
    } else if e.is_connect() {
        format!("cannot connect ({})", root_cause(e))
    } else {
        format!("connection failed ({})", root_cause(e))
    }
}

/// The innermost cause of an error, which usually names the real problem.
pub fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cur = e;
    while let Some(next) = cur.source() {
        cur = next;
    }
    cur.to_string()
}
