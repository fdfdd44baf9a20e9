//! Times as the tool writes them everywhere (the store, Katana's filters, the JSON):
//! UTC RFC 3339 with milliseconds.

/// Now, in that form.
pub fn now() -> String {
    format_ts(jiff::Timestamp::now())
}

pub fn format_ts(ts: jiff::Timestamp) -> String {
    ts.strftime("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}
