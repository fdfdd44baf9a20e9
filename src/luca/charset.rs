//! Request bodies in the configured charset. Luca stores text in a Turkish code page:
//! a character outside windows-1254 (Ł, ≤, emoji, …) comes back as `?` or makes Luca
//! refuse the body, so such text is a quarantine reason, never silently replaced.

use encoding_rs::WINDOWS_1254;
use serde_json::Value;

use crate::config::Charset;

/// The characters of `text` that windows-1254 cannot carry, in order, without repeats.
pub fn unencodable(text: &str) -> Vec<char> {
    let mut bad = Vec::new();
    let mut buf = [0u8; 4];
    for c in text.chars() {
        if c.is_ascii() || bad.contains(&c) {
            continue;
        }
        let (_, _, lossy) = WINDOWS_1254.encode(c.encode_utf8(&mut buf));
        if lossy {
            bad.push(c);
        }
    }
    bad
}

/// Every string in a payload that Luca could not store, as "field: 'Ø'" reasons.
pub fn check_payload(payload: &Value) -> Result<(), String> {
    let mut problems = Vec::new();
    walk(payload, "", &mut problems);
    if problems.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "text Luca cannot store (outside windows-1254): {}; change it in Katana",
            problems.join(", ")
        ))
    }
}

fn walk(v: &Value, path: &str, out: &mut Vec<String>) {
    match v {
        Value::String(s) => {
            let bad = unencodable(s);
            if !bad.is_empty() {
                let chars: String = bad
                    .iter()
                    .map(|c| format!("'{c}' (U+{:04X})", *c as u32))
                    .collect::<Vec<_>>()
                    .join(" ");
                out.push(format!("{path} \"{s}\" has {chars}"));
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                walk(item, &format!("{path}[{i}]"), out);
            }
        }
        Value::Object(map) => {
            for (k, item) in map {
                let p = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                walk(item, &p, out);
            }
        }
        _ => {}
    }
}

/// The body bytes and the Content-Type to send them with.
pub fn encode_body(payload: &Value, charset: Charset) -> Result<(Vec<u8>, &'static str), String> {
    let text = payload.to_string();
    match charset {
        Charset::Utf8 => Ok((text.into_bytes(), "application/json; charset=utf-8")),
        Charset::Windows1254 => {
            let (bytes, _, lossy) = WINDOWS_1254.encode(&text);
            if lossy {
                return Err(check_payload(payload).err().unwrap_or_else(|| {
                    "text Luca cannot store (outside windows-1254)".to_string()
                }));
            }
            Ok((bytes.into_owned(), "application/json; charset=windows-1254"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn turkish_is_fine_and_what_the_code_page_lacks_is_not() {
        assert!(unencodable("ÇĞİÖŞÜçğıöşü Çelik Raf Ø12 €").is_empty());
        assert_eq!(unencodable("Łódź ≤ 12 mm 😀 Ł"), vec!['Ł', 'ź', '≤', '😀']);
        let err = check_payload(&json!({"kartAdi": "Łańcuch", "kartKodu": "Z-12"})).unwrap_err();
        assert!(err.contains("kartAdi") && err.contains("U+0141"), "{err}");
    }

    #[test]
    fn windows_1254_bytes() {
        let (bytes, ct) = encode_body(&json!({"a": "Ş"}), Charset::Windows1254).unwrap();
        assert!(ct.contains("windows-1254"));
        assert!(bytes.contains(&0xDE), "Ş is 0xDE in windows-1254");
        let (bytes, _) = encode_body(&json!({"a": "Ş"}), Charset::Utf8).unwrap();
        assert!(bytes.windows(2).any(|w| w == [0xC5, 0x9E]));
    }
}
