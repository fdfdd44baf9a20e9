//! Times as the tool writes them everywhere (the store, Katana's filters, the JSON):
//! UTC RFC 3339 with milliseconds.

/// Now, in that form.
pub fn now() -> String {
    format_ts(jiff::Timestamp::now())
}

pub fn format_ts(ts: jiff::Timestamp) -> String {
    ts.strftime("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

/// Whether `s` is written exactly as [`format_ts`] writes a timestamp (`s` known to
/// parse): `YYYY-MM-DDTHH:MM:SS.mmmZ`, and not a leap second, which jiff reads as :59.
pub fn is_store_form(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 24
        && b.iter().enumerate().all(|(i, &c)| match i {
            4 | 7 => c == b'-',
            10 => c == b'T',
            13 | 16 => c == b':',
            19 => c == b'.',
            23 => c == b'Z',
            _ => c.is_ascii_digit(),
        })
        && &s[17..19] != "60"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_timestamp_in_the_store_form_is_what_formatting_it_again_writes() {
        for s in [
            "2026-08-03T00:01:22.668Z",
            "2026-12-31T23:59:59.999Z",
            "2024-02-29T12:00:00.000Z",
            "2026-08-03T00:01:22.668+00:00",
            "2026-08-03T03:01:22.668+03:00",
            "2026-08-03T00:01:22Z",
            "2026-08-03T00:01:22.6681Z",
            "2016-12-31T23:59:60.000Z",
        ] {
            let t: jiff::Timestamp = s.parse().unwrap();
            assert_eq!(
                is_store_form(s),
                format_ts(t) == s,
                "{s} formats as {}",
                format_ts(t)
            );
        }
        assert!(!is_store_form("2026-08-03T00:01:22.668+00:00"));
        assert!(is_store_form("2026-08-03T00:01:22.668Z"));
    }
}
