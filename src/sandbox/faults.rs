//! Fault knobs (`--faults`) and the seeded dice that decide when they fire.
//!
//! Syntax: comma-separated `key=value`. A key may be scoped with `katana.` or `luca.`;
//! an unscoped key sets the knob on every side it applies to. See `docs/sandbox.md`.

use std::fmt;
use std::str::FromStr;
use std::sync::Mutex;

use rand::rngs::Xoshiro256PlusPlus;
use rand::{RngExt, SeedableRng};
use serde::{Deserialize, Serialize};

/// Every fault knob of both simulated APIs. `Default` is "no faults".
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Faults {
    pub katana: KatanaFaults,
    pub luca: LucaFaults,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct KatanaFaults {
    /// Probability that a request is answered with a JSON 500 or 503.
    pub http5xx: f64,
    /// Probability that the connection is dropped before the request is handled.
    pub reset: f64,
    /// The next N requests get 429 with `Retry-After: 1`, whatever the rate limit says.
    pub burst429: u32,
    /// Extra latency per request, on top of `SandboxOptions::latency_ms`.
    pub latency_ms: u64,
    /// After this many requests (counted from when the faults were set), every request
    /// is held open and never answered: a run that stalls there can be killed at an
    /// exact point of its walk. 0 = never.
    #[serde(default)]
    pub stall_after: u32,
    /// Every request whose path starts with this (e.g. `/v1/sales_order_rows`) gets a
    /// 503: one endpoint down while the others answer.
    #[serde(default)]
    pub down: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LucaFaults {
    /// Probability of an HTML 500 page ("Beklenmedik bir hata oluştu") instead of handling.
    pub http5xx: f64,
    /// Probability that the connection is dropped before the request is handled.
    pub reset: f64,
    /// Probability that a successful create is stored but its answer never arrives.
    pub lost: f64,
    /// A session expires after this many requests (0 = never).
    pub expire_every: u32,
    /// Requests on one session are handled one at a time.
    pub serial: bool,
    /// How the list (`Listele*`) endpoints fail, if they do.
    pub lookup_fail: Option<LookupFail>,
    /// Extra latency per request, on top of `SandboxOptions::latency_ms`.
    pub latency_ms: u64,
    /// Every request gets a 503 HTML page.
    pub down: bool,
    /// Every login is refused with code 99.
    pub bad_login: bool,
    /// A new login ends the user's other sessions (they then get `Login olunmalı.`).
    pub single_login: bool,
    /// The login lists exactly this many branches (0: the two seeded; 1: only the main
    /// one; more: the seeded, then empty extra companies).
    pub branches: u32,
    /// Every list answer (the branch list too) keeps its items under this key.
    pub list_wrapper: Option<String>,
    /// A stock-card listing not narrowed to one code takes this much longer.
    pub slow_listing_ms: u64,
    /// The invoice list carries `belgeTakipNo` and `belgeAciklama`.
    pub rich_invoices: bool,
}

/// The ways Luca's list endpoints fail under `lookup_fail`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LookupFail {
    /// An HTML error page with HTTP 200.
    Html,
    /// `{"error":true}` with no message.
    Error,
    /// A 30 s stall, then the connection is dropped.
    Timeout,
}

impl LookupFail {
    fn name(self) -> &'static str {
        match self {
            LookupFail::Html => "html",
            LookupFail::Error => "error",
            LookupFail::Timeout => "timeout",
        }
    }
}

/// The error of a bad `--faults` string; the message names the offending key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("--faults: {0}")]
pub struct FaultsError(String);

#[derive(Clone, Copy, PartialEq, Eq)]
enum Side {
    Katana,
    Luca,
}

impl FromStr for Faults {
    type Err = FaultsError;

    fn from_str(spec: &str) -> Result<Self, Self::Err> {
        let mut faults = Faults::default();
        for entry in spec.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            let Some((key, value)) = entry.split_once('=') else {
                return Err(FaultsError(format!(
                    "`{entry}` is not of the form key=value"
                )));
            };
            let (key, value) = (key.trim(), value.trim());
            let (scope, name) = match key.split_once('.') {
                Some(("katana", name)) => (Some(Side::Katana), name),
                Some(("luca", name)) => (Some(Side::Luca), name),
                Some(_) => {
                    return Err(FaultsError(format!(
                        "unknown fault key `{key}` (scopes are `katana.` and `luca.`)"
                    )));
                }
                None => (None, key),
            };
            faults.set(scope, name, key, value)?;
        }
        Ok(faults)
    }
}

impl Faults {
    /// Sets one knob. `key` is the key as written, for messages.
    fn set(
        &mut self,
        scope: Option<Side>,
        name: &str,
        key: &str,
        value: &str,
    ) -> Result<(), FaultsError> {
        // Which sides each knob exists on.
        let sides: &[Side] = match name {
            "http5xx" | "reset" | "latency" => &[Side::Katana, Side::Luca],
            "burst429" | "stall_after" | "down" => &[Side::Katana],
            "lost" | "expire_every" | "serial" | "lookup_fail" | "luca_down" | "bad_login"
            | "single_login" | "branches" | "list_wrapper" | "slow_listing" | "rich_invoices" => {
                &[Side::Luca]
            }
            _ => return Err(FaultsError(format!("unknown fault key `{key}`"))),
        };
        let targets: Vec<Side> = match scope {
            None => sides.to_vec(),
            Some(side) if sides.contains(&side) => vec![side],
            Some(Side::Katana) => {
                return Err(FaultsError(format!(
                    "fault key `{key}` does not apply to Katana"
                )));
            }
            Some(Side::Luca) => {
                return Err(FaultsError(format!(
                    "fault key `{key}` does not apply to Luca"
                )));
            }
        };
        for side in targets {
            match (side, name) {
                (Side::Katana, "http5xx") => self.katana.http5xx = probability(key, value)?,
                (Side::Katana, "reset") => self.katana.reset = probability(key, value)?,
                (Side::Katana, "latency") => self.katana.latency_ms = number(key, value)?,
                (Side::Katana, "burst429") => self.katana.burst429 = number(key, value)?,
                (Side::Katana, "stall_after") => self.katana.stall_after = number(key, value)?,
                (Side::Katana, "down") => {
                    self.katana.down = match value {
                        "" | "0" | "none" => None,
                        path if path.starts_with('/') => Some(path.to_string()),
                        _ => {
                            return Err(FaultsError(format!(
                                "fault key `{key}`: expected a path such as \
                                 /v1/sales_order_rows, got `{value}`"
                            )));
                        }
                    }
                }
                (Side::Luca, "http5xx") => self.luca.http5xx = probability(key, value)?,
                (Side::Luca, "reset") => self.luca.reset = probability(key, value)?,
                (Side::Luca, "latency") => self.luca.latency_ms = number(key, value)?,
                (Side::Luca, "lost") => self.luca.lost = probability(key, value)?,
                (Side::Luca, "expire_every") => self.luca.expire_every = number(key, value)?,
                (Side::Luca, "serial") => self.luca.serial = flag(key, value)?,
                (Side::Luca, "luca_down") => self.luca.down = flag(key, value)?,
                (Side::Luca, "bad_login") => self.luca.bad_login = flag(key, value)?,
                (Side::Luca, "single_login") => self.luca.single_login = flag(key, value)?,
                (Side::Luca, "rich_invoices") => self.luca.rich_invoices = flag(key, value)?,
                (Side::Luca, "branches") => self.luca.branches = number(key, value)?,
                (Side::Luca, "slow_listing") => self.luca.slow_listing_ms = number(key, value)?,
                (Side::Luca, "list_wrapper") => {
                    if !value.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                        return Err(FaultsError(format!(
                            "fault key `{key}`: expected a key name (letters, digits, _), got `{value}`"
                        )));
                    }
                    self.luca.list_wrapper = (!value.is_empty()).then(|| value.to_string());
                }
                (Side::Luca, "lookup_fail") => {
                    self.luca.lookup_fail = match value {
                        "html" => Some(LookupFail::Html),
                        "error" => Some(LookupFail::Error),
                        "timeout" => Some(LookupFail::Timeout),
                        "" | "none" | "0" => None,
                        _ => {
                            return Err(FaultsError(format!(
                                "fault key `{key}`: expected html, error or timeout, got `{value}`"
                            )));
                        }
                    }
                }
                // `sides` above only lets through the pairs handled here.
                _ => return Err(FaultsError(format!("unknown fault key `{key}`"))),
            }
        }
        Ok(())
    }
}

fn probability(key: &str, value: &str) -> Result<f64, FaultsError> {
    match value.parse::<f64>() {
        Ok(p) if (0.0..=1.0).contains(&p) => Ok(p),
        _ => Err(FaultsError(format!(
            "fault key `{key}`: expected a probability from 0 to 1, got `{value}`"
        ))),
    }
}

fn number<T: FromStr>(key: &str, value: &str) -> Result<T, FaultsError> {
    value.parse().map_err(|_| {
        FaultsError(format!(
            "fault key `{key}`: expected a whole number, got `{value}`"
        ))
    })
}

fn flag(key: &str, value: &str) -> Result<bool, FaultsError> {
    match value {
        "1" | "true" | "on" => Ok(true),
        "0" | "false" | "off" => Ok(false),
        _ => Err(FaultsError(format!(
            "fault key `{key}`: expected 1 or 0, got `{value}`"
        ))),
    }
}

/// The canonical spec string: parsing it gives back the same `Faults`.
impl fmt::Display for Faults {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (k, l) = (&self.katana, &self.luca);
        let mut parts: Vec<String> = Vec::new();
        let mut prob = |name: &str, p: f64| {
            if p > 0.0 {
                parts.push(format!("{name}={p}"));
            }
        };
        prob("katana.http5xx", k.http5xx);
        prob("katana.reset", k.reset);
        prob("luca.http5xx", l.http5xx);
        prob("luca.reset", l.reset);
        prob("luca.lost", l.lost);
        let counts = [
            ("katana.burst429", u64::from(k.burst429)),
            ("katana.stall_after", u64::from(k.stall_after)),
            ("katana.latency", k.latency_ms),
            ("luca.latency", l.latency_ms),
            ("luca.expire_every", u64::from(l.expire_every)),
            ("luca.branches", u64::from(l.branches)),
            ("luca.slow_listing", l.slow_listing_ms),
        ];
        for (name, n) in counts {
            if n > 0 {
                parts.push(format!("{name}={n}"));
            }
        }
        for (name, on) in [
            ("luca.serial", l.serial),
            ("luca.luca_down", l.down),
            ("luca.bad_login", l.bad_login),
            ("luca.single_login", l.single_login),
            ("luca.rich_invoices", l.rich_invoices),
        ] {
            if on {
                parts.push(format!("{name}=1"));
            }
        }
        if let Some(path) = &k.down {
            parts.push(format!("katana.down={path}"));
        }
        if let Some(mode) = l.lookup_fail {
            parts.push(format!("luca.lookup_fail={}", mode.name()));
        }
        if let Some(w) = &l.list_wrapper {
            parts.push(format!("luca.list_wrapper={w}"));
        }
        f.write_str(&parts.join(","))
    }
}

/// Seeded dice for the probabilistic faults, so a run with the same seed and the same
/// request sequence meets the same faults.
pub struct Dice {
    rng: Mutex<Xoshiro256PlusPlus>,
}

impl Dice {
    pub fn new(seed: u64) -> Self {
        Self {
            rng: Mutex::new(Xoshiro256PlusPlus::seed_from_u64(seed)),
        }
    }

    /// True with probability `p`. `p == 0` never draws, so enabling one fault does not
    /// shift the sequence another fault sees.
    pub fn roll(&self, p: f64) -> bool {
        if p <= 0.0 {
            return false;
        }
        let mut rng = self.rng.lock().unwrap_or_else(|e| e.into_inner());
        rng.random_bool(p.min(1.0))
    }

    /// A random number for identifiers such as session cookies.
    pub fn next_u64(&self) -> u64 {
        let mut rng = self.rng.lock().unwrap_or_else(|e| e.into_inner());
        rng.random()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_spec_is_no_faults() {
        assert_eq!("".parse::<Faults>(), Ok(Faults::default()));
        assert_eq!(" , ".parse::<Faults>(), Ok(Faults::default()));
    }

    #[test]
    fn unscoped_keys_apply_to_every_side_they_exist_on() {
        let f: Faults = "http5xx=0.25,lost=0.1,serial=1,burst429=3,latency=7"
            .parse()
            .expect("valid");
        assert_eq!(f.katana.http5xx, 0.25);
        assert_eq!(f.luca.http5xx, 0.25);
        assert_eq!(f.luca.lost, 0.1);
        assert!(f.luca.serial);
        assert_eq!(f.katana.burst429, 3);
        assert_eq!((f.katana.latency_ms, f.luca.latency_ms), (7, 7));
    }

    #[test]
    fn scoped_keys_touch_one_side() {
        let f: Faults = "katana.reset=0.5,luca.lookup_fail=html,luca.expire_every=37"
            .parse()
            .expect("valid");
        assert_eq!(f.katana.reset, 0.5);
        assert_eq!(f.luca.reset, 0.0);
        assert_eq!(f.luca.lookup_fail, Some(LookupFail::Html));
        assert_eq!(f.luca.expire_every, 37);
    }

    #[test]
    fn errors_name_the_key() {
        let cases = [
            ("bogus=1", "bogus"),
            ("katana.lost=0.1", "katana.lost"),
            ("luca.burst429=2", "luca.burst429"),
            ("lost=2", "lost"),
            ("serial=yes", "serial"),
            ("lookup_fail=slow", "lookup_fail"),
            ("expire_every=-1", "expire_every"),
            ("mars.reset=0.1", "mars.reset"),
            ("serial", "serial"),
        ];
        for (spec, key) in cases {
            let err = spec.parse::<Faults>().expect_err(spec).to_string();
            assert!(err.contains(key), "{spec}: {err}");
        }
    }

    #[test]
    fn display_round_trips() {
        let spec = "katana.http5xx=0.05,luca.lost=0.1,katana.burst429=2,luca.expire_every=9,\
                    luca.serial=1,luca.luca_down=1,luca.bad_login=1,luca.lookup_fail=timeout,latency=3,\
                    single_login=1,branches=2,list_wrapper=stkSkart,slow_listing=500,rich_invoices=1";
        let f: Faults = spec.parse().expect("valid");
        let again: Faults = f.to_string().parse().expect("canonical form parses");
        assert_eq!(f, again);
    }

    #[test]
    fn dice_are_deterministic() {
        let (a, b) = (Dice::new(7), Dice::new(7));
        let ra: Vec<bool> = (0..50).map(|_| a.roll(0.3)).collect();
        let rb: Vec<bool> = (0..50).map(|_| b.roll(0.3)).collect();
        assert_eq!(ra, rb);
        assert!(ra.iter().any(|x| *x) && ra.iter().any(|x| !*x));
        assert!(!a.roll(0.0));
    }
}
