//! What the sandbox saw: the JSON of `GET /_sandbox/stats` and [`super::Sandbox::stats`].

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Stats {
    /// Requests per endpoint, keyed `"METHOD /path"` (no query string).
    pub requests: BTreeMap<String, u64>,
    pub katana: KatanaStats,
    pub luca: LucaStats,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct KatanaStats {
    /// Every request under `/v1`, whatever its answer.
    pub total: u64,
    /// 429 answers, from the rate limit and from `burst429`.
    pub rate_limited: u64,
    /// The most requests the accepted key sent within any 60 s (429s included).
    pub max_requests_in_60s: u64,
    /// Requests refused for a missing or wrong bearer key.
    pub unauthorized: u64,
    /// 5xx answers served by the `http5xx` fault.
    pub errors_5xx: u64,
    /// Connections dropped by the `reset` fault.
    pub resets: u64,
    /// Requests held open, never answered, by the `stall_after` fault.
    #[serde(default)]
    pub stalled: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LucaStats {
    /// Every request under `/Yetki`, whatever its answer.
    pub total: u64,
    /// Successful logins.
    pub logins: u64,
    /// Logins refused with code 99.
    pub failed_logins: u64,
    /// Objects created (stored), per kind.
    pub creates: KindCounts,
    /// Create requests whose natural key already existed, whether Luca accepted them or not.
    pub duplicate_creates: KindCounts,
    /// Creates that were stored but whose answer was dropped (`lost`).
    pub lost_responses: u64,
    /// Connections dropped before handling (`reset`).
    pub resets: u64,
    /// 5xx pages served (`http5xx`, `luca_down`).
    pub errors_5xx: u64,
    /// Sessions that expired (`expire_every`) and answered "login required".
    pub session_expiries: u64,
    /// List requests failed on purpose (`lookup_fail`).
    pub lookup_failures: u64,
    /// The most requests seen in flight at once on one session.
    pub max_session_concurrency: u64,
    /// Requests that had to wait for their session under `serial`.
    pub queued_requests: u64,
    /// Sessions ended by a later login of the same user (`single_login`).
    #[serde(default)]
    pub ended_by_login: u64,
}

/// A count per kind of Luca object.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct KindCounts {
    pub stock_card: u64,
    pub customer: u64,
    pub supplier: u64,
    pub warehouse: u64,
    pub invoice: u64,
    pub despatch: u64,
    pub stock_slip: u64,
}

/// The kinds of objects the Luca side creates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    StockCard,
    Customer,
    Supplier,
    Warehouse,
    Invoice,
    Despatch,
    StockSlip,
}

impl KindCounts {
    pub fn bump(&mut self, kind: Kind) {
        let slot = match kind {
            Kind::StockCard => &mut self.stock_card,
            Kind::Customer => &mut self.customer,
            Kind::Supplier => &mut self.supplier,
            Kind::Warehouse => &mut self.warehouse,
            Kind::Invoice => &mut self.invoice,
            Kind::Despatch => &mut self.despatch,
            Kind::StockSlip => &mut self.stock_slip,
        };
        *slot += 1;
    }

    pub fn total(&self) -> u64 {
        self.stock_card
            + self.customer
            + self.supplier
            + self.warehouse
            + self.invoice
            + self.despatch
            + self.stock_slip
    }
}

impl Stats {
    /// Counts one request to `"METHOD /path"`.
    pub fn hit(&mut self, endpoint: String) {
        *self.requests.entry(endpoint).or_default() += 1;
    }
}
