//! `sync.toml`, layered: command-line flag > environment > file > built-in default
//! (SPEC section 2). Every problem is reported with the key and the file it concerns,
//! and maps to exit 78.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use rust_decimal::Decimal;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use crate::error::Error;

pub const DEFAULT_CONFIG: &str = "sync.toml";
pub const DEFAULT_STORE: &str = "katana-sync.db";
pub const SANDBOX_STORE: &str = "katana-sync-sandbox.db";

/// Upper bounds of numeric settings: beyond them a value is a typo, and arithmetic on
/// it (minutes to seconds, now minus the lookback) would overflow.
const MAX_LOOKBACK_MINUTES: u64 = 525_600;
const MAX_TIMEOUT_SECS: u64 = 3_600;
const MAX_ATTEMPTS: u32 = 100;

/// Where a secret came from, for `doctor` and error messages (never its value).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecretSource {
    Unset,
    File,
    Env(&'static str),
    /// A file under `$CREDENTIALS_DIRECTORY` (systemd's `LoadCredential=`, or a mounted
    /// Kubernetes Secret), named by its credential name.
    Credential(&'static str),
    Sandbox,
}

impl std::fmt::Display for SecretSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SecretSource::Unset => f.write_str("not set"),
            SecretSource::File => f.write_str("the config file"),
            SecretSource::Env(var) => write!(f, "the environment variable {var}"),
            SecretSource::Credential(name) => {
                write!(f, "the credential file $CREDENTIALS_DIRECTORY/{name}")
            }
            SecretSource::Sandbox => f.write_str("the built-in sandbox"),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Config {
    /// The file the settings came from, if any (named in every message about a key).
    pub file: Option<PathBuf>,
    pub store: StoreConfig,
    pub katana: KatanaConfig,
    pub luca: LucaConfig,
    pub sync: SyncConfig,
    pub mapping: MappingConfig,
    pub metrics: MetricsConfig,
}

#[derive(Debug, Clone, Default)]
pub struct MetricsConfig {
    /// `[metrics] textfile`; `None`: no metrics file.
    pub textfile: Option<PathBuf>,
}

#[derive(Debug, Clone)]
pub struct StoreConfig {
    pub path: PathBuf,
}

#[derive(Debug, Clone)]
pub struct KatanaConfig {
    pub base_url: String,
    pub api_key: SecretString,
    pub api_key_source: SecretSource,
    pub requests_per_minute: u32,
    pub page_size: u32,
    pub timeout: Duration,
}

#[derive(Debug, Clone)]
pub struct LucaConfig {
    pub base_url: String,
    pub org_code: String,
    pub username: String,
    pub password: SecretString,
    pub password_source: SecretSource,
    pub branch_id: i64,
    pub sessions: usize,
    pub request_charset: Charset,
    pub timeout: Duration,
    /// For listings that are slow by nature (a whole `No-Paging` catalogue).
    pub listing_timeout: Duration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Charset {
    Utf8,
    Windows1254,
}

impl Charset {
    pub fn label(self) -> &'static str {
        match self {
            Charset::Utf8 => "utf-8",
            Charset::Windows1254 => "windows-1254",
        }
    }
}

#[derive(Debug, Clone)]
pub struct SyncConfig {
    pub lookback: Duration,
    pub max_attempts: u32,
    pub auto_approve: bool,
    pub despatches: bool,
    pub intervals: BTreeMap<String, Duration>,
}

#[derive(Debug, Clone)]
pub struct MappingConfig {
    pub invoice_series: String,
    pub invoice_doc_type: i64,
    pub despatch_series: String,
    pub despatch_doc_type: i64,
    pub stock_in_doc_type: i64,
    pub stock_out_doc_type: i64,
    pub customer_code_prefix: String,
    pub supplier_code_prefix: String,
    pub category_code: String,
    /// `kategoriKod` of new customer / supplier accounts.
    pub customer_category: String,
    pub supplier_category: String,
    pub default_warehouse: String,
    pub default_unit_id: i64,
    pub timezone: jiff::tz::TimeZone,
    pub timezone_name: String,
    pub warehouses: BTreeMap<i64, String>,
    pub tax_rates: BTreeMap<i64, Decimal>,
    pub units: BTreeMap<String, i64>,
}

/// The schedules `all --due` knows, with their default intervals: the registry's.
pub const INTERVALS: [(crate::pass::Interval, &str, &str); 8] = crate::pass::Interval::ALL;

// ---- the file, as written ---------------------------------------------------------

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawFile {
    store: RawStore,
    katana: RawKatana,
    luca: RawLuca,
    sync: RawSync,
    mapping: RawMapping,
    metrics: RawMetrics,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawMetrics {
    textfile: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawStore {
    path: Option<PathBuf>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawKatana {
    base_url: String,
    api_key: String,
    requests_per_minute: u32,
    page_size: u32,
    timeout_secs: u64,
}

impl Default for RawKatana {
    fn default() -> Self {
        RawKatana {
            base_url: "https://api.katanamrp.com/v1".into(),
            api_key: String::new(),
            requests_per_minute: 60,
            page_size: 250,
            timeout_secs: 30,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawLuca {
    base_url: String,
    org_code: String,
    username: String,
    password: String,
    branch_id: i64,
    sessions: usize,
    request_charset: String,
    timeout_secs: u64,
    listing_timeout_secs: u64,
}

impl Default for RawLuca {
    fn default() -> Self {
        RawLuca {
            base_url: "https://akozas.luca.com.tr/Yetki".into(),
            org_code: String::new(),
            username: String::new(),
            password: String::new(),
            branch_id: 0,
            sessions: 4,
            request_charset: "utf-8".into(),
            timeout_secs: 120,
            listing_timeout_secs: 300,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawSync {
    lookback_minutes: u64,
    max_attempts: u32,
    auto_approve: bool,
    despatches: bool,
    intervals: BTreeMap<String, String>,
}

impl Default for RawSync {
    fn default() -> Self {
        RawSync {
            lookback_minutes: 10,
            max_attempts: 5,
            auto_approve: false,
            despatches: false,
            intervals: BTreeMap::new(),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawMapping {
    invoice_series: String,
    invoice_doc_type: i64,
    despatch_series: String,
    despatch_doc_type: i64,
    stock_in_doc_type: i64,
    stock_out_doc_type: i64,
    customer_code_prefix: String,
    supplier_code_prefix: String,
    category_code: String,
    customer_category: String,
    supplier_category: String,
    default_warehouse: String,
    default_unit_id: i64,
    timezone: String,
    warehouses: BTreeMap<String, String>,
    tax_rates: BTreeMap<String, String>,
    units: BTreeMap<String, i64>,
}

impl Default for RawMapping {
    fn default() -> Self {
        RawMapping {
            invoice_series: "A".into(),
            invoice_doc_type: 76,
            despatch_series: "A".into(),
            despatch_doc_type: 52,
            stock_in_doc_type: 150,
            stock_out_doc_type: 151,
            customer_code_prefix: "K".into(),
            supplier_code_prefix: "T".into(),
            category_code: "01".into(),
            customer_category: "120.01".into(),
            supplier_category: "320.01".into(),
            default_warehouse: "001".into(),
            default_unit_id: 0,
            timezone: "Europe/Istanbul".into(),
            warehouses: BTreeMap::new(),
            tax_rates: BTreeMap::new(),
            units: BTreeMap::new(),
        }
    }
}

// ---- loading ----------------------------------------------------------------------

/// What the command line contributes on top of the file and the environment.
#[derive(Debug, Default, Clone)]
pub struct Overrides {
    pub config: Option<PathBuf>,
    pub db: Option<PathBuf>,
}

/// Reads the environment through a function so tests can supply their own.
pub type Env<'a> = &'a dyn Fn(&str) -> Option<String>;

pub fn process_env(key: &str) -> Option<String> {
    std::env::var(key).ok().filter(|v| !v.is_empty())
}

/// Loads the configuration. With `required`, a missing file is an error (exit 78);
/// otherwise the built-in defaults stand in for it.
pub fn load(overrides: &Overrides, env: Env<'_>, required: bool) -> Result<Config, Error> {
    let explicit = overrides.config.is_some();
    let path = overrides
        .config
        .clone()
        .unwrap_or_else(|| PathBuf::from(DEFAULT_CONFIG));
    let (raw, file) = match std::fs::read_to_string(&path) {
        Ok(text) => {
            let raw: RawFile = toml::from_str(&text).map_err(|e| {
                Error::config(format!(
                    "{} is not valid: {}",
                    path.display(),
                    e.to_string().trim_end()
                ))
            })?;
            warn_if_secret_is_readable(&path, &raw);
            (raw, Some(path))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && !required && !explicit => {
            (RawFile::default(), None)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(Error::config(format!(
                "config file {} not found; copy the documented sample `sync.toml` there, \
                 or name another with --config / KATANA_SYNC_CONFIG",
                path.display()
            )));
        }
        Err(e) => {
            return Err(Error::config(format!(
                "cannot read config file {}: {e}",
                path.display()
            )));
        }
    };
    resolve(raw, file, overrides, env)
}

/// The built-in defaults alone (no file), with the overrides and the environment.
pub fn defaults(overrides: &Overrides, env: Env<'_>) -> Result<Config, Error> {
    resolve(RawFile::default(), None, overrides, env)
}

/// Parses a config text as if read from `name` (for tests and `doctor`).
pub fn from_str(
    text: &str,
    name: &Path,
    overrides: &Overrides,
    env: Env<'_>,
) -> Result<Config, Error> {
    let raw: RawFile = toml::from_str(text).map_err(|e| {
        Error::config(format!(
            "{} is not valid: {}",
            name.display(),
            e.to_string().trim_end()
        ))
    })?;
    resolve(raw, Some(name.to_path_buf()), overrides, env)
}

fn resolve(
    raw: RawFile,
    file: Option<PathBuf>,
    overrides: &Overrides,
    env: Env<'_>,
) -> Result<Config, Error> {
    let at = |key: &str, problem: String| -> Error {
        let origin = file.as_ref().map_or_else(
            || "the built-in defaults".to_string(),
            |f| f.display().to_string(),
        );
        Error::config(format!("`{key}` in {origin}: {problem}"))
    };

    let store_path = overrides
        .db
        .clone()
        .or_else(|| env("KATANA_SYNC_DB").map(PathBuf::from))
        .or(raw.store.path)
        .unwrap_or_else(|| PathBuf::from(DEFAULT_STORE));

    let (api_key, api_key_source) =
        secret(&raw.katana.api_key, "KATANA_API_KEY", "katana_api_key", env)?;
    let k = raw.katana;
    if k.requests_per_minute == 0 {
        return Err(at(
            "katana.requests_per_minute",
            "must be at least 1".into(),
        ));
    }
    if !(1..=250).contains(&k.page_size) {
        return Err(at(
            "katana.page_size",
            format!("{} is outside 1..=250", k.page_size),
        ));
    }
    if !(1..=MAX_TIMEOUT_SECS).contains(&k.timeout_secs) {
        return Err(at(
            "katana.timeout_secs",
            format!("{} is outside 1..={MAX_TIMEOUT_SECS}", k.timeout_secs),
        ));
    }
    check_url(&k.base_url).map_err(|p| at("katana.base_url", p))?;
    let katana = KatanaConfig {
        base_url: k.base_url.trim_end_matches('/').to_string(),
        api_key,
        api_key_source,
        requests_per_minute: k.requests_per_minute,
        page_size: k.page_size,
        timeout: Duration::from_secs(k.timeout_secs),
    };

    let l = raw.luca;
    let (password, password_source) = secret(&l.password, "LUCA_PASSWORD", "luca_password", env)?;
    let request_charset = match l.request_charset.to_ascii_lowercase().as_str() {
        "utf-8" | "utf8" => Charset::Utf8,
        "windows-1254" | "cp1254" => Charset::Windows1254,
        other => {
            return Err(at(
                "luca.request_charset",
                format!("\"{other}\" is not one of \"utf-8\", \"windows-1254\""),
            ));
        }
    };
    if !(1..=32).contains(&l.sessions) {
        return Err(at(
            "luca.sessions",
            format!("{} is outside 1..=32", l.sessions),
        ));
    }
    if l.branch_id < 0 {
        return Err(at("luca.branch_id", "must be 0 or a branch id".into()));
    }
    if !(1..=MAX_TIMEOUT_SECS).contains(&l.timeout_secs) {
        return Err(at(
            "luca.timeout_secs",
            format!("{} is outside 1..={MAX_TIMEOUT_SECS}", l.timeout_secs),
        ));
    }
    if l.listing_timeout_secs == 0 {
        return Err(at("luca.listing_timeout_secs", "must be at least 1".into()));
    }
    check_url(&l.base_url).map_err(|p| at("luca.base_url", p))?;
    let luca = LucaConfig {
        base_url: l.base_url.trim_end_matches('/').to_string(),
        org_code: env("LUCA_ORG_CODE").unwrap_or(l.org_code),
        username: env("LUCA_USERNAME").unwrap_or(l.username),
        password,
        password_source,
        branch_id: l.branch_id,
        sessions: l.sessions,
        request_charset,
        timeout: Duration::from_secs(l.timeout_secs),
        listing_timeout: Duration::from_secs(l.listing_timeout_secs),
    };

    let s = raw.sync;
    if !(1..=MAX_ATTEMPTS).contains(&s.max_attempts) {
        return Err(at(
            "sync.max_attempts",
            format!("{} is outside 1..={MAX_ATTEMPTS}", s.max_attempts),
        ));
    }
    if s.lookback_minutes > MAX_LOOKBACK_MINUTES {
        return Err(at(
            "sync.lookback_minutes",
            format!(
                "{} is outside 0..={MAX_LOOKBACK_MINUTES} (a year); the overlap of incremental \
                 windows is usually 10",
                s.lookback_minutes
            ),
        ));
    }
    let mut intervals = BTreeMap::new();
    for (_, name, default) in INTERVALS {
        intervals.insert(
            name.to_string(),
            parse_duration(default).expect("valid default"),
        );
    }
    for (name, text) in &s.intervals {
        if !intervals.contains_key(name) {
            let known: Vec<_> = INTERVALS.iter().map(|(_, n, _)| *n).collect();
            return Err(at(
                &format!("sync.intervals.{name}"),
                format!("unknown pass; expected one of {}", known.join(", ")),
            ));
        }
        let d = parse_duration(text).map_err(|p| at(&format!("sync.intervals.{name}"), p))?;
        intervals.insert(name.clone(), d);
    }
    let sync = SyncConfig {
        lookback: Duration::from_secs(s.lookback_minutes * 60),
        max_attempts: s.max_attempts,
        auto_approve: s.auto_approve,
        despatches: s.despatches,
        intervals,
    };

    let m = raw.mapping;
    // Every id and document type is sent to Luca as is: a zero or negative one is never
    // what the accountant meant. Codes and prefixes become parts of Luca records, so
    // they must be text Luca can store.
    let positive = |key: &str, n: i64| -> Result<(), Error> {
        if n > 0 {
            Ok(())
        } else {
            Err(at(
                key,
                format!("{n} is not a Luca id: it must be a positive number"),
            ))
        }
    };
    let code = |key: &str, value: &str, may_be_empty: bool| -> Result<(), Error> {
        if value.trim().is_empty() && !may_be_empty {
            return Err(at(key, "must not be empty".into()));
        }
        let bad = crate::luca::charset::unencodable(value);
        if !bad.is_empty() {
            let chars: String = bad.iter().collect();
            return Err(at(
                key,
                format!(
                    "\"{value}\" holds {chars:?}, which Luca cannot store (outside windows-1254)"
                ),
            ));
        }
        Ok(())
    };
    positive("mapping.invoice_doc_type", m.invoice_doc_type)?;
    positive("mapping.despatch_doc_type", m.despatch_doc_type)?;
    positive("mapping.stock_in_doc_type", m.stock_in_doc_type)?;
    positive("mapping.stock_out_doc_type", m.stock_out_doc_type)?;
    if m.default_unit_id != 0 {
        positive("mapping.default_unit_id", m.default_unit_id).map_err(|_| {
            at(
                "mapping.default_unit_id",
                format!(
                    "{} is not a Luca olcumBirimiId: it must be positive, or 0 for \"unmapped\"",
                    m.default_unit_id
                ),
            )
        })?;
    }
    for (unit, id) in &m.units {
        positive(&format!("mapping.units.{unit}"), *id)?;
    }
    code("mapping.invoice_series", &m.invoice_series, false)?;
    code("mapping.despatch_series", &m.despatch_series, false)?;
    code(
        "mapping.customer_code_prefix",
        &m.customer_code_prefix,
        false,
    )?;
    code(
        "mapping.supplier_code_prefix",
        &m.supplier_code_prefix,
        false,
    )?;
    code("mapping.category_code", &m.category_code, false)?;
    code("mapping.customer_category", &m.customer_category, false)?;
    code("mapping.supplier_category", &m.supplier_category, false)?;
    code("mapping.default_warehouse", &m.default_warehouse, true)?;
    let timezone = jiff::tz::TimeZone::get(&m.timezone).map_err(|_| {
        at(
            "mapping.timezone",
            format!("\"{}\" is not a known IANA time zone", m.timezone),
        )
    })?;
    let mut warehouses = BTreeMap::new();
    for (id, depot) in m.warehouses {
        let key = format!("mapping.warehouses.{id}");
        let id: i64 = id.parse().ok().filter(|id| *id > 0).ok_or_else(|| {
            at(
                &key,
                "the key must be a Katana location id (a positive number)".into(),
            )
        })?;
        code(&key, &depot, false)?;
        warehouses.insert(id, depot);
    }
    let mut tax_rates = BTreeMap::new();
    for (id, rate) in m.tax_rates {
        let key = format!("mapping.tax_rates.{id}");
        let id: i64 = id.parse().ok().filter(|id| *id > 0).ok_or_else(|| {
            at(
                &key,
                "the key must be a Katana tax rate id (a positive number)".into(),
            )
        })?;
        let rate: Decimal = rate.parse().map_err(|_| {
            at(
                &key,
                format!("\"{rate}\" is not a decimal fraction such as \"0.20\""),
            )
        })?;
        if rate < Decimal::ZERO || rate >= Decimal::ONE {
            return Err(at(
                &key,
                format!("{rate} is not a VAT fraction in [0, 1), e.g. \"0.20\" for 20 %"),
            ));
        }
        tax_rates.insert(id, rate);
    }
    if m.customer_code_prefix == m.supplier_code_prefix {
        return Err(at(
            "mapping.supplier_code_prefix",
            "must differ from mapping.customer_code_prefix, or customer and supplier codes collide"
                .into(),
        ));
    }
    let mapping = MappingConfig {
        invoice_series: m.invoice_series,
        invoice_doc_type: m.invoice_doc_type,
        despatch_series: m.despatch_series,
        despatch_doc_type: m.despatch_doc_type,
        stock_in_doc_type: m.stock_in_doc_type,
        stock_out_doc_type: m.stock_out_doc_type,
        customer_code_prefix: m.customer_code_prefix,
        supplier_code_prefix: m.supplier_code_prefix,
        category_code: m.category_code,
        customer_category: m.customer_category,
        supplier_category: m.supplier_category,
        default_warehouse: m.default_warehouse,
        default_unit_id: m.default_unit_id,
        timezone,
        timezone_name: m.timezone,
        warehouses,
        tax_rates,
        units: m.units,
    };

    Ok(Config {
        file,
        store: StoreConfig { path: store_path },
        katana,
        luca,
        sync,
        mapping,
        metrics: MetricsConfig {
            textfile: Some(raw.metrics.textfile)
                .filter(|t| !t.trim().is_empty())
                .map(PathBuf::from),
        },
    })
}

/// A secret from, in order: its environment variable, the credential file `name` under
/// `$CREDENTIALS_DIRECTORY` (so systemd's `LoadCredential=` and a mounted Kubernetes
/// Secret keep it out of the environment), the config file.
fn secret(
    file_value: &str,
    var: &'static str,
    name: &'static str,
    env: Env<'_>,
) -> Result<(SecretString, SecretSource), Error> {
    if let Some(v) = env(var) {
        return Ok((SecretString::from(v), SecretSource::Env(var)));
    }
    if let Some(dir) = env("CREDENTIALS_DIRECTORY") {
        let path = Path::new(&dir).join(name);
        match std::fs::read_to_string(&path) {
            // A file written by `echo` or `kubectl create secret --from-file` ends in a
            // newline that is no part of the secret.
            Ok(text) if !text.trim_end_matches(['\r', '\n']).is_empty() => {
                let value = text.trim_end_matches(['\r', '\n']).to_string();
                return Ok((SecretString::from(value), SecretSource::Credential(name)));
            }
            Ok(_) => {
                return Err(Error::config(format!(
                    "the credential file {} is empty; write the secret into it, or remove it \
                     to use {var} or the config file",
                    path.display()
                )));
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                return Err(Error::config(format!(
                    "cannot read the credential file {}: {e}; make it readable by this user \
                     (systemd: LoadCredential=, Kubernetes: the Secret's defaultMode)",
                    path.display()
                )));
            }
        }
    }
    Ok(if !file_value.is_empty() {
        (
            SecretString::from(file_value.to_string()),
            SecretSource::File,
        )
    } else {
        (SecretString::from(String::new()), SecretSource::Unset)
    })
}

fn check_url(url: &str) -> Result<(), String> {
    if url.starts_with("http://") || url.starts_with("https://") {
        Ok(())
    } else {
        Err(format!("\"{url}\" is not an http(s) URL"))
    }
}

/// Parses "90s", "5m", "6h", "1d" with `humantime` (a bare number is seconds).
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    // A bare number has always meant seconds; anything else is humantime's ("5m", "6h",
    // "1d", "1h 30m").
    let d = match t.parse::<u64>() {
        Ok(secs) => Duration::from_secs(secs),
        Err(_) => humantime::parse_duration(t)
            .map_err(|_| format!("\"{text}\" is not a duration such as \"5m\" or \"6h\""))?,
    };
    if d > Duration::from_secs(366 * 86400) {
        return Err(format!("\"{text}\" is longer than a year"));
    }
    if d.is_zero() {
        return Err(format!("\"{text}\" must be longer than zero"));
    }
    Ok(d)
}

/// SPEC: a config file that holds a secret and is readable by others gets a warning.
fn warn_if_secret_is_readable(path: &Path, raw: &RawFile) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let holds_secret = !raw.katana.api_key.is_empty() || !raw.luca.password.is_empty();
        if let Ok(meta) = std::fs::metadata(path)
            && holds_secret
            && meta.permissions().mode() & 0o077 != 0
        {
            tracing::warn!(
                "{} holds a secret and is readable by others (mode {:o}); run `chmod 600 {}` \
                 or move the secret to KATANA_API_KEY / LUCA_PASSWORD",
                path.display(),
                meta.permissions().mode() & 0o777,
                path.display()
            );
        }
    }
}

impl Config {
    /// The built-in sandbox: its URLs and credentials, no file needed.
    pub fn for_sandbox(mut self, katana_url: String, luca_url: String) -> Config {
        use crate::sandbox;
        self.katana.base_url = katana_url;
        self.katana.api_key = SecretString::from(sandbox::KATANA_KEY.to_string());
        self.katana.api_key_source = SecretSource::Sandbox;
        self.luca.base_url = luca_url;
        self.luca.org_code = sandbox::LUCA_ORG_CODE.into();
        self.luca.username = sandbox::LUCA_USER.into();
        self.luca.password = SecretString::from(sandbox::LUCA_PASSWORD.to_string());
        self.luca.password_source = SecretSource::Sandbox;
        self.luca.branch_id = sandbox::LUCA_BRANCH_ID;
        // The simulator's Luca units and warehouses (docs/sandbox.md).
        self.mapping.default_unit_id = 5;
        self.mapping.units = [("pcs", 5), ("m", 8), ("kg", 3)]
            .into_iter()
            .map(|(u, id)| (u.to_string(), id))
            .collect();
        self.mapping.warehouses = [(1001, "001"), (1002, "002"), (1003, "003")]
            .into_iter()
            .map(|(id, code)| (id, code.to_string()))
            .collect();
        self.mapping.default_warehouse = String::new();
        self
    }

    /// Where an error about a key should point the operator.
    pub fn origin(&self) -> String {
        self.file
            .as_ref()
            .map_or_else(|| "no config file".to_string(), |f| f.display().to_string())
    }

    /// Fails with exit 78 unless the Katana key is set.
    pub fn require_katana(&self) -> Result<(), Error> {
        if self.katana.api_key.expose_secret().is_empty() {
            return Err(Error::config(format!(
                "`katana.api_key` is not set ({}); set it there or in KATANA_API_KEY",
                self.origin()
            )));
        }
        Ok(())
    }

    /// Fails with exit 78 unless the Luca login is complete.
    pub fn require_luca(&self) -> Result<(), Error> {
        let missing = [
            (
                "luca.org_code",
                self.luca.org_code.is_empty(),
                "LUCA_ORG_CODE",
            ),
            (
                "luca.username",
                self.luca.username.is_empty(),
                "LUCA_USERNAME",
            ),
            (
                "luca.password",
                self.luca.password.expose_secret().is_empty(),
                "LUCA_PASSWORD",
            ),
        ];
        for (key, is_missing, var) in missing {
            if is_missing {
                return Err(Error::config(format!(
                    "`{key}` is not set ({}); set it there or in {var}",
                    self.origin()
                )));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_env(_: &str) -> Option<String> {
        None
    }

    fn parse(text: &str) -> Result<Config, Error> {
        from_str(text, Path::new("t.toml"), &Overrides::default(), &no_env)
    }

    #[test]
    fn defaults_match_the_spec() {
        let c = parse("").unwrap();
        assert_eq!(c.katana.requests_per_minute, 60);
        assert_eq!(c.katana.page_size, 250);
        assert_eq!(c.luca.sessions, 4);
        assert_eq!(c.sync.lookback, Duration::from_secs(600));
        assert_eq!(c.sync.intervals["orders"], Duration::from_secs(300));
        assert_eq!(c.sync.intervals["stock"], Duration::from_secs(6 * 3600));
        assert_eq!(c.mapping.invoice_doc_type, 76);
        assert_eq!(c.store.path, PathBuf::from("katana-sync.db"));
    }

    #[test]
    fn bad_values_name_the_key_and_the_file() {
        for (text, key) in [
            ("[katana]\npage_size = 251", "katana.page_size"),
            (
                "[luca]\nrequest_charset = \"latin1\"",
                "luca.request_charset",
            ),
            (
                "[sync.intervals]\norders = \"soon\"",
                "sync.intervals.orders",
            ),
            ("[mapping]\ntimezone = \"Mars/Olympus\"", "mapping.timezone"),
            ("[mapping.tax_rates]\n7 = \"20\"", "mapping.tax_rates.7"),
        ] {
            let err = parse(text).unwrap_err().to_string();
            assert!(err.contains(key), "{err}");
            assert!(err.contains("t.toml"), "{err}");
        }
        for (text, key) in [
            (
                "[sync]\nlookback_minutes = 9223372036854775807",
                "sync.lookback_minutes",
            ),
            (
                "[sync.intervals]\norders = \"9223372036854775807d\"",
                "sync.intervals.orders",
            ),
            (
                "[katana]\ntimeout_secs = 18446744073709551615",
                "katana.timeout_secs",
            ),
            ("[mapping]\ndefault_unit_id = -1", "mapping.default_unit_id"),
            ("[mapping.units]\npcs = -5", "mapping.units.pcs"),
            ("[mapping.units]\nkg = 0", "mapping.units.kg"),
            (
                "[mapping]\ncustomer_code_prefix = \"KŁ\"",
                "mapping.customer_code_prefix",
            ),
            (
                "[mapping]\ninvoice_doc_type = -76",
                "mapping.invoice_doc_type",
            ),
            (
                "[mapping]\nstock_in_doc_type = 0",
                "mapping.stock_in_doc_type",
            ),
            ("[mapping]\ncategory_code = \"\"", "mapping.category_code"),
            ("[mapping]\ncategory_code = \"  \"", "mapping.category_code"),
            (
                "[mapping]\ninvoice_series = \"A≤\"",
                "mapping.invoice_series",
            ),
            (
                "[mapping.warehouses]\n\"-3\" = \"001\"",
                "mapping.warehouses.-3",
            ),
            (
                "[mapping.warehouses]\n\"7\" = \"DĘP\"",
                "mapping.warehouses.7",
            ),
            (
                "[mapping.tax_rates]\n\"0\" = \"0.20\"",
                "mapping.tax_rates.0",
            ),
        ] {
            let err = parse(text).unwrap_err().to_string();
            assert!(err.contains(key) && err.contains("t.toml"), "{text}: {err}");
        }
        // 0 keeps its documented meaning: "unmapped".
        assert_eq!(
            parse("[mapping]\ndefault_unit_id = 0")
                .unwrap()
                .mapping
                .default_unit_id,
            0
        );
        assert!(parse("[mapping]\ncustomer_code_prefix = \"Ç\"\ndefault_warehouse = \"\"").is_ok());
        let err = parse("[katana]\npage_sise = 10").unwrap_err().to_string();
        assert!(err.contains("page_sise") && err.contains("t.toml"), "{err}");
    }

    #[test]
    fn env_beats_file_and_flag_beats_env() {
        let env = |k: &str| match k {
            "KATANA_API_KEY" => Some("from-env".to_string()),
            "KATANA_SYNC_DB" => Some("env.db".to_string()),
            _ => None,
        };
        let text = "[katana]\napi_key = \"from-file\"\n[store]\npath = \"file.db\"";
        let c = from_str(text, Path::new("t.toml"), &Overrides::default(), &env).unwrap();
        assert_eq!(c.katana.api_key.expose_secret(), "from-env");
        assert_eq!(c.katana.api_key_source, SecretSource::Env("KATANA_API_KEY"));
        assert_eq!(c.store.path, PathBuf::from("env.db"));
        let flags = Overrides {
            db: Some("flag.db".into()),
            ..Overrides::default()
        };
        let c = from_str(text, Path::new("t.toml"), &flags, &env).unwrap();
        assert_eq!(c.store.path, PathBuf::from("flag.db"));
        let c = parse(text).unwrap();
        assert_eq!(c.katana.api_key.expose_secret(), "from-file");
        assert_eq!(c.store.path, PathBuf::from("file.db"));
    }

    #[test]
    fn secrets_are_redacted_in_debug() {
        let c = parse("[katana]\napi_key = \"s3cr3t-key\"\n[luca]\npassword = \"pa55\"").unwrap();
        let dump = format!("{c:?}");
        assert!(
            !dump.contains("s3cr3t-key") && !dump.contains("pa55"),
            "{dump}"
        );
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("5m").unwrap(), Duration::from_secs(300));
        assert_eq!(parse_duration("6h").unwrap(), Duration::from_secs(21600));
        assert_eq!(parse_duration("45").unwrap(), Duration::from_secs(45));
        assert_eq!(parse_duration("5min").unwrap(), Duration::from_secs(300));
        assert_eq!(parse_duration(" 1d ").unwrap(), Duration::from_secs(86400));
        assert!(parse_duration("400d").is_err());
        assert!(parse_duration("0s").is_err());
        assert!(parse_duration("5 parsecs").is_err());
    }
}
