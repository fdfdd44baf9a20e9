//! What a Luca answer means. Luca answers errors with HTTP 200 and a flag in the body,
//! an expired session with a JSON code or an HTML page, a crash with an HTML page: the
//! status code alone says little, so every answer is classified by its body, and a
//! success must be shown by the body (no error signal), never assumed.

use std::fmt;

use serde_json::Value;

#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    /// A JSON answer without any error signal. (For a create, the caller still needs
    /// the new id before it counts as a success.)
    Ok(Value),
    /// A business error with a message (`error: true`, a non-zero `code` with a
    /// message, `basarili`/`success` false with a message): Luca refused it.
    Rejected(String),
    /// Luca says the object already exists, in the words the reference attests:
    /// adoption, not failure.
    Exists(String),
    /// Not logged in, in JSON (`{"code":1001,"message":"Login olunmalı."}`): Luca says
    /// this before it runs anything.
    SessionLost(String),
    /// A login page, or a text answer that speaks of login / branch / session: the
    /// session is gone, but whether a write ran before it went cannot be told.
    LoginPage(String),
    /// Any other HTML page (a crash page, a proxy's 5xx page).
    Html { status: u16, text: String },
    /// Anything else that is not a clear answer (5xx, unparseable body, an error code
    /// without a message, an object with neither result nor error).
    Ambiguous(String),
}

impl fmt::Display for Answer {
    /// One line for people: no Debug formatting, HTML reduced to its first words.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Answer::Ok(v) => write!(f, "{}", excerpt(&v.to_string())),
            Answer::Rejected(m) => write!(f, "Luca refused it: {m}"),
            Answer::Exists(m) => write!(f, "Luca says it exists: {m}"),
            Answer::SessionLost(m) => write!(f, "not logged in ({m})"),
            Answer::LoginPage(m) => write!(f, "the session is gone ({m})"),
            Answer::Html { status, text } => write!(f, "HTTP {status}, an HTML page: {text}"),
            Answer::Ambiguous(m) => f.write_str(m),
        }
    }
}

/// The codes by which Luca says "log in first" (1003: no branch selected).
const SESSION_CODES: std::ops::RangeInclusive<i64> = 1001..=1003;

/// The "already exists" messages the reference attests, and no others: a message that
/// merely contains "kullanımda" (in use) may mean anything.
const EXISTS: [&str; 2] = ["kart kodu daha önce kullanılmış", "depo kodu kullanımda"];

fn is_exists(message: &str) -> bool {
    let m = message.to_lowercase();
    EXISTS.iter().any(|e| m.contains(e))
}

/// Words by which a non-JSON text answer speaks of the session.
fn mentions_session(text: &str) -> bool {
    let lower = text.to_lowercase();
    ["login", "şube", "oturum", "giriş", "giris"]
        .iter()
        .any(|w| lower.contains(w))
}

pub fn classify(status: u16, body: &str) -> Answer {
    let text = body.trim_start_matches('\u{feff}').trim();
    if text.starts_with('<') {
        let words = html_words(text);
        let lower = text.to_lowercase();
        if lower.contains("girisform") || lower.contains("giris.do") {
            return Answer::LoginPage(format!("HTTP {status}, the login page"));
        }
        return Answer::Html {
            status,
            text: words,
        };
    }
    if status >= 500 {
        return Answer::Ambiguous(format!("HTTP {status}: {}", excerpt(text)));
    }
    let value: Value = match serde_json::from_str(text) {
        Ok(v) => v,
        Err(_) if text.is_empty() => {
            return Answer::Ambiguous(format!("HTTP {status}, an empty answer"));
        }
        Err(_) if mentions_session(text) => return Answer::LoginPage(excerpt(text)),
        Err(_) => return Answer::Ambiguous(format!("HTTP {status}, not JSON: {}", excerpt(text))),
    };
    if let Some(obj) = value.as_object() {
        let message = obj
            .get("message")
            .or_else(|| obj.get("mesaj"))
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|m| !m.is_empty())
            .map(str::to_string);
        let code = obj.get("code").and_then(|c| match c {
            Value::Number(n) => n.as_i64(),
            Value::String(s) => s.trim().parse().ok(),
            _ => None,
        });
        if let Some(code) = code
            && SESSION_CODES.contains(&code)
        {
            return Answer::SessionLost(message.unwrap_or_else(|| format!("code {code}")));
        }
        let flag = |key: &str| match obj.get(key) {
            Some(Value::Bool(b)) => Some(*b),
            Some(Value::String(s)) => match s.trim() {
                "true" | "1" => Some(true),
                "false" | "0" => Some(false),
                _ => None,
            },
            Some(Value::Number(n)) => n.as_i64().map(|n| n != 0),
            _ => None,
        };
        if flag("error") == Some(true) {
            return match message {
                Some(m) if is_exists(&m) => Answer::Exists(m),
                Some(m) => Answer::Rejected(m),
                None => Answer::Rejected(
                    "Luca refused it without a message (usually a body it cannot read)".into(),
                ),
            };
        }
        let failed = code.is_some_and(|c| c != 0)
            || flag("basarili") == Some(false)
            || flag("success") == Some(false);
        if failed {
            let signal = match code {
                Some(c) if c != 0 => format!("code {c}"),
                _ => "a success flag of false".to_string(),
            };
            return match message {
                Some(m) if is_exists(&m) => Answer::Exists(m),
                Some(m) => Answer::Rejected(m),
                None => Answer::Ambiguous(format!("Luca answered {signal} without a message")),
            };
        }
    }
    if status >= 400 {
        return Answer::Ambiguous(format!("HTTP {status}: {}", excerpt(text)));
    }
    Answer::Ok(value)
}

/// An HTML page in a few words: its title and the start of its text, on one line.
fn html_words(html: &str) -> String {
    let lower = html.to_lowercase();
    let title = lower
        .find("<title>")
        .and_then(|start| {
            let from = start + "<title>".len();
            lower[from..]
                .find("</title>")
                .map(|end| &html[from..from + end])
        })
        .map(|t| t.split_whitespace().collect::<Vec<_>>().join(" "))
        .filter(|t| !t.is_empty());
    let body = match lower.find("</title>") {
        Some(end) => &html[end..],
        None => html,
    };
    let words: Vec<String> = strip_tags(body)
        .split_whitespace()
        .take(12)
        .map(str::to_string)
        .collect();
    let words = words.join(" ");
    let text = match (title, words.is_empty()) {
        (Some(t), true) => t,
        (Some(t), false) => format!("\"{t}\": {words}"),
        (None, false) => words,
        (None, true) => "an empty page".into(),
    };
    excerpt(&text)
}

fn strip_tags(html: &str) -> String {
    let mut out = String::new();
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => in_tag = true,
            '>' => {
                in_tag = false;
                out.push(' ');
            }
            c if !in_tag => out.push(c),
            _ => {}
        }
    }
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The first 160 characters, for messages and the attempt log.
pub fn excerpt(text: &str) -> String {
    let mut s: String = text.chars().take(160).collect();
    if text.chars().count() > 160 {
        s.push('…');
    }
    s
}

/// Where a list answer kept its items: a bare array, or the one array under a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Wrapper {
    Bare,
    Key(String),
}

impl fmt::Display for Wrapper {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Wrapper::Bare => f.write_str("a bare array"),
            Wrapper::Key(k) => write!(f, "{{\"{k}\": [...]}}"),
        }
    }
}

/// The items of a list answer: a bare array, or the single array under whatever key
/// (`list`, `data`, `stkSkart`, ...; the shapes are unverified). An object with no
/// array, or with several, is not a list one can read: the error names its keys, and
/// it must never be taken for "empty".
pub fn list_items(value: &Value) -> Result<(Wrapper, &Vec<Value>), String> {
    match value {
        Value::Array(items) => Ok((Wrapper::Bare, items)),
        Value::Object(map) => {
            let arrays: Vec<(&String, &Vec<Value>)> = map
                .iter()
                .filter_map(|(k, v)| v.as_array().map(|a| (k, a)))
                .collect();
            let keys = || {
                let names: Vec<&str> = map.keys().map(String::as_str).collect();
                if names.is_empty() {
                    "no keys".to_string()
                } else {
                    format!("keys {}", names.join(", "))
                }
            };
            match arrays.as_slice() {
                [(key, items)] => Ok((Wrapper::Key((*key).clone()), *items)),
                [] => Err(format!("an object with no list in it ({})", keys())),
                _ => Err(format!(
                    "an object with several lists, so which one holds the records cannot be \
                     told ({})",
                    keys()
                )),
            }
        }
        other => Err(format!("not a list: {}", excerpt(&other.to_string()))),
    }
}

/// A text field under the first of `keys` present.
pub fn text_field<'a>(item: &'a Value, keys: &[&str]) -> Option<&'a str> {
    keys.iter()
        .find_map(|k| item.get(*k).and_then(Value::as_str))
}

/// An id field (number or numeric string) under the first of `keys` present.
pub fn id_field(item: &Value, keys: &[&str]) -> Option<i64> {
    keys.iter().find_map(|k| match item.get(*k)? {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rejected(a: &Answer) -> bool {
        matches!(a, Answer::Rejected(_))
    }

    fn unclear(a: &Answer) -> bool {
        matches!(a, Answer::Ambiguous(_))
    }

    #[test]
    fn a_success_is_an_answer_without_any_error_signal() {
        assert_eq!(
            classify(200, r#"{"skartId":79409,"error":false,"message":"ok"}"#),
            Answer::Ok(json!({"skartId":79409,"error":false,"message":"ok"}))
        );
        assert!(matches!(
            classify(200, r#"{"code":0,"message":"ok"}"#),
            Answer::Ok(_)
        ));
        assert!(matches!(
            classify(200, r#"{"basarili":true}"#),
            Answer::Ok(_)
        ));
    }

    #[test]
    fn error_true_is_a_rejection_with_or_without_a_message() {
        assert_eq!(
            classify(
                200,
                r#"{"error":true,"message":"[kartAdi] alanı zorunludur."}"#
            ),
            Answer::Rejected("[kartAdi] alanı zorunludur.".into())
        );
        assert!(rejected(&classify(200, r#"{"error":true}"#)));
        assert!(rejected(&classify(200, r#"{"error":"true","mesaj":"x"}"#)));
    }

    #[test]
    fn a_non_zero_code_with_a_message_is_a_rejection_without_one_unclear() {
        assert_eq!(
            classify(200, r#"{"code":7,"message":"Geçersiz istek"}"#),
            Answer::Rejected("Geçersiz istek".into())
        );
        assert!(rejected(&classify(200, r#"{"code":"12","message":"x"}"#)));
        assert!(unclear(&classify(200, r#"{"code":7}"#)));
        assert!(unclear(&classify(200, r#"{"code":7,"message":"  "}"#)));
    }

    #[test]
    fn basarili_or_success_false_is_a_failure() {
        assert!(rejected(&classify(
            200,
            r#"{"basarili":false,"mesaj":"Hata"}"#
        )));
        assert!(rejected(&classify(
            200,
            r#"{"success":false,"message":"Hata"}"#
        )));
        assert!(unclear(&classify(200, r#"{"basarili":false}"#)));
        assert!(unclear(&classify(200, r#"{"success":"false"}"#)));
    }

    #[test]
    fn session_codes_mean_not_logged_in() {
        for code in [1001, 1002, 1003] {
            let body = format!(r#"{{"code":{code},"message":"Login olunmalı."}}"#);
            assert!(
                matches!(classify(200, &body), Answer::SessionLost(_)),
                "{code}"
            );
        }
    }

    #[test]
    fn only_the_attested_messages_mean_already_exists() {
        assert!(matches!(
            classify(
                200,
                r#"{"error":true,"message":"Kart kodu daha önce kullanılmış"}"#
            ),
            Answer::Exists(_)
        ));
        assert!(matches!(
            classify(200, r#"{"error":true,"message":"Depo kodu kullanımda!"}"#),
            Answer::Exists(_)
        ));
        // "in use" about something else is a plain refusal.
        assert!(rejected(&classify(
            200,
            r#"{"error":true,"message":"Barkod başka kartta kullanımda"}"#
        )));
        assert!(rejected(&classify(
            200,
            r#"{"error":true,"message":"Kayıt zaten mevcut"}"#
        )));
    }

    #[test]
    fn text_that_speaks_of_the_session_is_not_a_clear_session_loss() {
        assert!(matches!(
            classify(200, "Şirket şube seçimi yapılmalı"),
            Answer::LoginPage(_)
        ));
        assert!(matches!(
            classify(200, "Oturum sona erdi"),
            Answer::LoginPage(_)
        ));
        assert!(unclear(&classify(200, "garbage")));
        assert!(unclear(&classify(200, "")));
        assert!(unclear(&classify(503, "Service Unavailable")));
    }

    #[test]
    fn html_pages_are_told_apart_and_reduced_to_a_few_words() {
        let login = "<html><head><title>Luca Koza | Giriş</title></head><body>\
                     <form name=\"girisForm\" action=\"/Yetki/Giris.do\"></form></body></html>";
        assert!(matches!(classify(200, login), Answer::LoginPage(_)));
        let crash = "<!DOCTYPE html>\n<html><head><title>Luca Koza</title></head><body>\n\
                     <h2>Beklenmedik bir hata oluştu</h2>\n<p>Lütfen daha sonra tekrar deneyiniz.</p></body></html>";
        let a = classify(500, crash);
        assert_eq!(
            a,
            Answer::Html {
                status: 500,
                text:
                    "\"Luca Koza\": Beklenmedik bir hata oluştu Lütfen daha sonra tekrar deneyiniz."
                        .into()
            }
        );
        let line = a.to_string();
        assert!(
            !line.contains('\n') && !line.contains('<') && !line.contains("Html("),
            "{line}"
        );
    }

    #[test]
    fn list_wrappers_of_any_name() {
        let bare = json!([{"kod": "A"}]);
        assert_eq!(list_items(&bare).unwrap().0, Wrapper::Bare);
        for key in ["list", "data", "stkSkart", "items", "depolar"] {
            let v = json!({ key: [{"kartKodu": "A"}], "total": 1 });
            let (w, items) = list_items(&v).unwrap();
            assert_eq!((w, items.len()), (Wrapper::Key(key.into()), 1), "{key}");
        }
        assert_eq!(list_items(&json!({"data": []})).unwrap().1.len(), 0);
    }

    #[test]
    fn an_object_with_no_list_or_several_is_could_not_tell_naming_its_keys() {
        let none = list_items(&json!({"message": "x", "total": 3})).unwrap_err();
        assert!(none.contains("message") && none.contains("total"), "{none}");
        let several = list_items(&json!({"list": [], "errors": [1]})).unwrap_err();
        assert!(
            several.contains("several") && several.contains("errors"),
            "{several}"
        );
        assert!(list_items(&json!("x")).is_err());
    }

    #[test]
    fn fields_by_any_of_their_names() {
        let item = json!({"kartKodu": "A", "skartId": "12"});
        assert_eq!(text_field(&item, &["kod", "kartKodu"]), Some("A"));
        assert_eq!(id_field(&item, &["skartId"]), Some(12));
    }
}
