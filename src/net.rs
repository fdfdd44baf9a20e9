//! Transport errors in words an operator can act on (both remotes).

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
