//! What a Luca answer means. Luca answers errors with HTTP 200 and a flag in the body,
//! an expired session with a JSON code or an HTML page, a crash with an HTML page: the
//! status code alone says little, so every answer is classified by its body.

use serde_json::Value;

#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    /// A JSON answer without an error flag.
    Ok(Value),
    /// A business error (`{"error":true,...}`): Luca refused; nothing was created.
    Rejected(String),
    /// Luca says the object already exists ("Kart kodu daha önce kullanılmış",
    /// "Depo kodu kullanımda!"): adoption, not failure.
    Exists(String),
    /// Not logged in (`{"code":1001,"message":"Login olunmalı."}`, or no branch
    /// selected): the request was refused before it ran.
    SessionLost(String),
    /// An HTML page: a login page or a crash page; which one cannot be told for sure.
    Html(String),
    /// Anything else that is not a clear answer (5xx, unparseable body).
    Ambiguous(String),
}

/// Messages by which Luca says "this code is taken".
const EXISTS: [&str; 4] = [
    "daha önce kullanılmış",
    "kullanımda",
    "zaten mevcut",
    "already exists",
];

pub fn classify(status: u16, body: &str) -> Answer {
    let text = body.trim_start_matches('\u{feff}').trim();
    if text.starts_with('<') {
        return Answer::Html(format!(
            "HTTP {status}, an HTML page: {}",
            excerpt(&strip_tags(text))
        ));
    }
    if status >= 500 {
        return Answer::Ambiguous(format!("HTTP {status}: {}", excerpt(text)));
    }
    let value: Value = match serde_json::from_str(text) {
        Ok(v) => v,
        Err(_) => {
            let lower = text.to_lowercase();
            return if lower.contains("login") || lower.contains("şube") || lower.contains("oturum")
            {
                Answer::SessionLost(excerpt(text))
            } else {
                Answer::Ambiguous(format!("HTTP {status}, not JSON: {}", excerpt(text)))
            };
        }
    };
    if let Some(obj) = value.as_object() {
        let message = obj
            .get("message")
            .or_else(|| obj.get("mesaj"))
            .and_then(Value::as_str)
            .map(str::to_string);
        if let Some(code) = obj.get("code").and_then(Value::as_i64)
            && (1001..=1003).contains(&code)
        {
            return Answer::SessionLost(message.unwrap_or_else(|| format!("code {code}")));
        }
        let error = match obj.get("error") {
            Some(Value::Bool(b)) => *b,
            Some(Value::String(s)) => s == "true",
            Some(Value::Number(n)) => n.as_i64() == Some(1),
            _ => false,
        };
        if error {
            return match message {
                Some(m) if EXISTS.iter().any(|p| m.to_lowercase().contains(p)) => Answer::Exists(m),
                Some(m) if !m.trim().is_empty() => Answer::Rejected(m),
                _ => Answer::Rejected(
                    "Luca refused it without a message (usually a body it cannot read)".into(),
                ),
            };
        }
    }
    if status >= 400 {
        return Answer::Ambiguous(format!("HTTP {status}: {}", excerpt(text)));
    }
    Answer::Ok(value)
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

/// The items of a list answer: a bare array, or one under `list` or `data` (the exact
/// shapes are unverified, so several are accepted). Anything else is not a list and
/// must never be read as "empty".
pub fn list_items(value: &Value) -> Option<&Vec<Value>> {
    match value {
        Value::Array(items) => Some(items),
        Value::Object(map) => ["list", "data"]
            .iter()
            .find_map(|k| map.get(*k).and_then(Value::as_array)),
        _ => None,
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

    #[test]
    fn the_answers_luca_gives() {
        assert_eq!(
            classify(200, r#"{"skartId":79409,"error":false,"message":"ok"}"#),
            Answer::Ok(json!({"skartId":79409,"error":false,"message":"ok"}))
        );
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
        assert_eq!(
            classify(
                200,
                r#"{"error":true,"message":"[kartAdi] alanı zorunludur."}"#
            ),
            Answer::Rejected("[kartAdi] alanı zorunludur.".into())
        );
        assert!(matches!(
            classify(200, r#"{"error":true}"#),
            Answer::Rejected(_)
        ));
        assert!(matches!(
            classify(200, r#"{"code":1001,"message":"Login olunmalı."}"#),
            Answer::SessionLost(_)
        ));
        assert!(matches!(
            classify(200, "<html><body>Beklenmedik bir hata oluştu</body></html>"),
            Answer::Html(_)
        ));
        assert!(matches!(
            classify(503, "Service Unavailable"),
            Answer::Ambiguous(_)
        ));
        assert!(matches!(
            classify(200, "Şirket şube seçimi yapılmalı"),
            Answer::SessionLost(_)
        ));
        assert!(matches!(classify(200, "garbage"), Answer::Ambiguous(_)));
    }

    #[test]
    fn list_shapes() {
        let bare = json!([{"kod": "A"}]);
        let under_list = json!({"list": [{"kartKodu": "A"}]});
        let under_data = json!({"data": []});
        assert_eq!(list_items(&bare).unwrap().len(), 1);
        assert_eq!(list_items(&under_list).unwrap().len(), 1);
        assert_eq!(list_items(&under_data).unwrap().len(), 0);
        assert!(list_items(&json!({"message": "x"})).is_none());
        assert_eq!(
            text_field(&under_list["list"][0], &["kartKodu", "kod"]),
            Some("A")
        );
        assert_eq!(id_field(&json!({"skartId": "12"}), &["skartId"]), Some(12));
    }
}
