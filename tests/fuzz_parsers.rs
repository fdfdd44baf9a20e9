//! Property tests of the parsers of remote answers, fed what the remotes may send.
//!
//! Katana: list records whose fields drift in type (numbers as strings, nulls, the
//! strings "null"/"undefined", unknown enum values, missing and unknown fields). The
//! parsers never panic; a record decodes, or its error names the field; a decimal or
//! id reads the same whether it came as a number or as a string.
//!
//! Luca: create answers of every shape SPEC section 5 lists (`error: true`, non-zero
//! `code`, `basarili`/`success` false, "already exists", not logged in), HTML pages,
//! truncated JSON, windows-1254 bytes, arbitrary bytes. The classification never
//! panics, and a create counts as a success only when SPEC's conditions hold: the new
//! id is there and there is no error signal.

use katana_sync::parsers::{
    Answer, Pagination, SalesOrderRow, card_created_id, classify, decode_order, decode_record,
};
use proptest::prelude::*;
use rust_decimal::Decimal;
use serde_json::{Map, Value, json};

/// Enough cases to cover the shapes, few enough to stay within a few seconds in debug.
fn config() -> ProptestConfig {
    ProptestConfig {
        cases: 400,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

// ---- Katana -------------------------------------------------------------------------

/// A decimal as Katana may send it, with the value it stands for (None: no value).
#[derive(Debug, Clone)]
enum Dec {
    Number(Decimal),
    Text(Decimal),
    Padded(Decimal),
    Null,
    NullText,
    Empty,
    Malformed(String),
    Bool,
    Object,
}

impl Dec {
    fn json(&self) -> Value {
        match self {
            Dec::Number(d) => number(*d),
            Dec::Text(d) => Value::String(d.to_string()),
            Dec::Padded(d) => Value::String(format!(" {d} ")),
            Dec::Null => Value::Null,
            Dec::NullText => json!("null"),
            Dec::Empty => json!(""),
            Dec::Malformed(s) => Value::String(s.clone()),
            Dec::Bool => json!(true),
            Dec::Object => json!({"amount": 1}),
        }
    }

    /// `Ok(Some(d))`: reads as d; `Ok(None)`: reads as no value; `Err`: refused.
    fn expected(&self) -> Result<Option<Decimal>, ()> {
        match self {
            Dec::Number(d) | Dec::Text(d) | Dec::Padded(d) => Ok(Some(*d)),
            Dec::Null | Dec::NullText | Dec::Empty => Ok(None),
            Dec::Malformed(_) | Dec::Bool | Dec::Object => Err(()),
        }
    }
}

/// A JSON number with the decimal's exact text (serde_json keeps it, arbitrary_precision).
fn number(d: Decimal) -> Value {
    serde_json::from_str(&d.to_string()).expect("a decimal's text is a JSON number")
}

fn decimal() -> impl Strategy<Value = Decimal> {
    (any::<i64>(), 0u32..12).prop_map(|(m, scale)| Decimal::new(m % 1_000_000_000_000, scale))
}

fn dec() -> impl Strategy<Value = Dec> {
    prop_oneof![
        4 => decimal().prop_map(Dec::Number),
        4 => decimal().prop_map(Dec::Text),
        1 => decimal().prop_map(Dec::Padded),
        1 => Just(Dec::Null),
        1 => Just(Dec::NullText),
        1 => Just(Dec::Empty),
        1 => prop::sample::select(vec!["12,5O", "1.2.3", "abc", "1e", "--1", "½"])
            .prop_map(|s| Dec::Malformed(s.to_string())),
        1 => Just(Dec::Bool),
        1 => Just(Dec::Object),
    ]
}

/// An id as Katana may send it.
#[derive(Debug, Clone)]
enum Id {
    Number(i64),
    Text(i64),
    Null,
    NullText,
    Empty,
    Fraction,
    Word,
    Huge,
    Bool,
}

impl Id {
    fn json(&self) -> Value {
        match self {
            Id::Number(n) => json!(n),
            Id::Text(n) => json!(n.to_string()),
            Id::Null => Value::Null,
            Id::NullText => json!("null"),
            Id::Empty => json!(""),
            Id::Fraction => number(Decimal::new(15, 1)),
            Id::Word => json!("yedi"),
            Id::Huge => serde_json::from_str("123456789012345678901234567890").unwrap(),
            Id::Bool => json!(false),
        }
    }

    fn expected(&self) -> Result<Option<i64>, ()> {
        match self {
            Id::Number(n) | Id::Text(n) => Ok(Some(*n)),
            Id::Null | Id::NullText | Id::Empty => Ok(None),
            Id::Fraction | Id::Word | Id::Huge | Id::Bool => Err(()),
        }
    }
}

fn id() -> impl Strategy<Value = Id> {
    prop_oneof![
        6 => (1i64..10_000_000_000).prop_map(Id::Number),
        3 => (1i64..10_000_000_000).prop_map(Id::Text),
        1 => Just(Id::Null),
        1 => Just(Id::NullText),
        1 => Just(Id::Empty),
        1 => Just(Id::Fraction),
        1 => Just(Id::Word),
        1 => Just(Id::Huge),
        1 => Just(Id::Bool),
    ]
}

/// Any JSON value, for fields of any type and unknown fields.
fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        decimal().prop_map(number),
        "[a-zA-Z0-9 çğıöşüÇĞİÖŞÜ:.,-]{0,12}".prop_map(Value::String),
    ];
    leaf.prop_recursive(2, 8, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..3).prop_map(Value::Array),
            prop::collection::btree_map("[a-z_]{1,8}", inner, 0..3)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// A timestamp as Katana may send it.
fn timestamp() -> impl Strategy<Value = Value> {
    prop_oneof![
        4 => (0i64..2_000_000_000, 0u32..1000).prop_map(|(s, ms)| {
            json!(jiff::Timestamp::new(s, (ms * 1_000_000) as i32).unwrap().to_string())
        }),
        1 => Just(json!("2021-02-04T11:40:02.8Z")),
        1 => Just(json!("2021-02-04T14:40:02+03:00")),
        1 => Just(Value::Null),
        1 => Just(json!("")),
        1 => Just(json!("dün")),
        1 => Just(json!(1612438802)),
    ]
}

/// A field that may be missing, as (key, value).
fn field(
    key: &'static str,
    value: impl Strategy<Value = Value>,
) -> impl Strategy<Value = Option<(&'static str, Value)>> {
    prop::option::weighted(0.85, value.prop_map(move |v| (key, v)))
}

fn object(fields: Vec<Option<(&'static str, Value)>>, unknown: Map<String, Value>) -> Value {
    let mut map = unknown;
    for (k, v) in fields.into_iter().flatten() {
        map.insert(k.to_string(), v);
    }
    Value::Object(map)
}

fn unknown_fields() -> impl Strategy<Value = Map<String, Value>> {
    prop::collection::btree_map("x_[a-z]{1,6}", any_json(), 0..3)
        .prop_map(|m| m.into_iter().collect())
}

/// A row with every field drifting, and what its quantity and variant should read as.
fn row() -> impl Strategy<Value = (Value, Option<Dec>, Option<Id>)> {
    (
        id(),
        prop::option::weighted(0.9, dec()),
        prop::option::weighted(0.9, id()),
        (
            field("price_per_unit", dec().prop_map(|d| d.json())),
            field("total_discount", dec().prop_map(|d| d.json())),
            field("tax_rate_id", id().prop_map(|i| i.json())),
            field("location_id", id().prop_map(|i| i.json())),
            field("updated_at", timestamp()),
            field("deleted_at", timestamp()),
        ),
        unknown_fields(),
    )
        .prop_map(|(row_id, qty, variant, (a, b, c, d, e, f), unknown)| {
            let mut fields = vec![Some(("id", row_id.json())), a, b, c, d, e, f];
            fields.push(qty.as_ref().map(|q| ("quantity", q.json())));
            fields.push(variant.as_ref().map(|v| ("variant_id", v.json())));
            (object(fields, unknown), qty, variant)
        })
}

/// A status as Katana may send it: documented, unknown, or of another type.
fn status() -> impl Strategy<Value = Value> {
    prop_oneof![
        3 => prop::sample::select(vec!["NOT_SHIPPED", "PENDING", "PACKED", "DELIVERED"])
            .prop_map(|s| json!(s)),
        1 => "[A-Z_]{1,12}".prop_map(Value::String),
        1 => Just(Value::Null),
        1 => Just(json!(3)),
    ]
}

fn order() -> impl Strategy<Value = Value> {
    (
        id(),
        prop::option::weighted(
            0.9,
            prop_oneof![
                4 => "SO-[0-9]{1,6}".prop_map(Value::String),
                1 => Just(json!("  ")),
                1 => Just(Value::Null),
                1 => Just(json!(1042)),
            ],
        ),
        (
            field("status", status()),
            field("customer_id", id().prop_map(|i| i.json())),
            field("location_id", id().prop_map(|i| i.json())),
            field(
                "currency",
                prop_oneof![Just(json!("TRY")), Just(json!("EUR")), Just(Value::Null)],
            ),
            field("conversion_rate", dec().prop_map(|d| d.json())),
            field("total", dec().prop_map(|d| d.json())),
            field("order_created_date", timestamp()),
            field("updated_at", timestamp()),
        ),
        prop::option::weighted(
            0.9,
            prop_oneof![
                6 => prop::collection::vec(row().prop_map(|r| r.0), 0..4).prop_map(Value::Array),
                1 => Just(Value::Null),
                1 => Just(json!("rows")),
            ],
        ),
        unknown_fields(),
    )
        .prop_map(|(order_id, no, (a, b, c, d, e, f, g, h), rows, unknown)| {
            let mut fields = vec![Some(("id", order_id.json())), a, b, c, d, e, f, g, h];
            fields.push(no.map(|n| ("order_no", n)));
            fields.push(rows.map(|r| ("sales_order_rows", r)));
            object(fields, unknown)
        })
}

proptest! {
    #![proptest_config(config())]

    /// A row decodes exactly when its required fields read, and its values are the ones
    /// sent, whatever type they came in; a refusal names the field.
    #[test]
    fn katana_rows_decode_or_name_the_field((raw, qty, variant) in row()) {
        let text = raw.to_string();
        let decoded = decode_record::<SalesOrderRow>(&text);
        let want_qty = qty.as_ref().map_or(Err(()), Dec::expected);
        let want_variant = variant.as_ref().map_or(Ok(None), Id::expected);
        match &decoded {
            Ok(r) => {
                prop_assert_eq!(Ok(Some(r.quantity)), want_qty, "{}", text);
                prop_assert_eq!(Ok(r.variant_id), want_variant, "{}", text);
            }
            Err(e) => {
                prop_assert!(!e.is_empty());
                // Any field may be the one refused; when the quantity and the variant
                // read, the message must name another field.
                if want_qty.is_ok_and(|q| q.is_some()) && want_variant.is_ok() {
                    prop_assert!(!e.contains("`quantity`") && !e.contains("`variant_id`"), "{}: {}", text, e);
                    prop_assert!(e.contains("field `"), "{}: {}", text, e);
                }
            }
        }
    }

    /// A decimal sent as a string reads as the same decimal as the number.
    #[test]
    fn katana_numbers_as_strings_read_the_same(d in decimal(), price in decimal()) {
        let as_number = json!({"id": 1, "quantity": number(d), "price_per_unit": number(price)});
        let as_text = json!({"id": 1, "quantity": d.to_string(), "price_per_unit": price.to_string()});
        let a = decode_record::<SalesOrderRow>(&as_number.to_string()).unwrap();
        let b = decode_record::<SalesOrderRow>(&as_text.to_string()).unwrap();
        prop_assert_eq!((a.id, a.quantity, a.price_per_unit), (b.id, b.quantity, b.price_per_unit));
        prop_assert_eq!(a.quantity, d);
    }

    /// An order of a page, as the orders pull decodes it: never a panic; a success has a
    /// non-blank number and every embedded row; a refusal carries the key to hold it by.
    #[test]
    fn katana_orders_decode_or_are_held_by_a_key(raw in order()) {
        let text = raw.to_string();
        match decode_order(&text) {
            Ok(d) => {
                let listed = raw.get("sales_order_rows").and_then(Value::as_array).map_or(0, Vec::len);
                prop_assert_eq!(d.rows.len(), listed, "{}", text);
                prop_assert!(!d.order_no.trim().is_empty());
                // The order is stored without its rows, which are stored as rows; its
                // other fields are kept as sent.
                let stored: Value = serde_json::from_str(&d.raw).unwrap();
                let mut want = raw.clone();
                want.as_object_mut().unwrap().remove("sales_order_rows");
                prop_assert_eq!(stored, want);
                for (row, row_raw) in &d.rows {
                    let back: Value = serde_json::from_str(row_raw).unwrap();
                    prop_assert_eq!(decode_record::<SalesOrderRow>(&back.to_string()).map(|r| r.id), Ok(row.id));
                }
            }
            Err((key, reason)) => {
                prop_assert!(!key.trim().is_empty() && !reason.is_empty(), "{}", text);
            }
        }
    }

    /// `X-Pagination` with values of any type, or no JSON at all, never panics, and a
    /// count reads the same as a number or a string.
    #[test]
    fn katana_pagination_headers_of_any_shape(total in 0u64..1_000_000, pages in 0u64..5000, junk in ".{0,40}", as_text in any::<bool>()) {
        let v = |n: u64| if as_text { json!(n.to_string()) } else { json!(n) };
        let header = json!({"total_records": v(total), "total_pages": v(pages), "last_page": if as_text { json!("false") } else { json!(false) }});
        let p = Pagination::parse(&header.to_string());
        prop_assert_eq!((p.total_records, p.total_pages, p.last_page), (Some(total), Some(pages), Some(false)));
        let _ = Pagination::parse(&junk);
        let text = header.to_string();
        let _ = Pagination::parse(&text[..text.len() / 2]);
    }
}

// ---- Luca ---------------------------------------------------------------------------

/// A flag as Luca may send it.
fn flag() -> impl Strategy<Value = Option<Value>> {
    prop_oneof![
        3 => Just(None),
        1 => Just(Some(json!(true))),
        1 => Just(Some(json!(false))),
        1 => Just(Some(json!("true"))),
        1 => Just(Some(json!("false"))),
        1 => Just(Some(json!(1))),
        1 => Just(Some(json!(0))),
        1 => Just(Some(Value::Null)),
    ]
}

fn code() -> impl Strategy<Value = Option<Value>> {
    prop_oneof![
        3 => Just(None),
        2 => Just(Some(json!(0))),
        1 => Just(Some(json!("0"))),
        1 => prop::sample::select(vec![1001i64, 1002, 1003, 7, 99, -1]).prop_map(|c| Some(json!(c))),
        1 => Just(Some(json!("12"))),
        1 => Just(Some(Value::Null)),
    ]
}

fn message() -> impl Strategy<Value = Option<Value>> {
    prop_oneof![
        2 => Just(None),
        1 => Just(Some(json!(""))),
        1 => Just(Some(json!("ok"))),
        1 => Just(Some(json!("Login olunmalı."))),
        1 => Just(Some(json!("Kart kodu daha önce kullanılmış"))),
        1 => Just(Some(json!("Depo kodu kullanımda!"))),
        1 => Just(Some(json!("[kartAdi] alanı zorunludur."))),
        1 => Just(Some(json!("Barkod başka kartta kullanımda"))),
    ]
}

fn new_id() -> impl Strategy<Value = Option<Value>> {
    prop_oneof![
        2 => Just(None),
        4 => (1i64..10_000_000).prop_map(|n| Some(json!(n))),
        2 => (1i64..10_000_000).prop_map(|n| Some(json!(n.to_string()))),
        1 => Just(Some(Value::Null)),
        1 => Just(Some(json!("yok"))),
        1 => Just(Some(json!({"id": 5}))),
    ]
}

/// A JSON create answer with any combination of SPEC's signals.
fn create_answer() -> impl Strategy<Value = Value> {
    (
        prop::sample::select(vec!["skartId", "stokKartId"]),
        new_id(),
        flag(),
        code(),
        prop::sample::select(vec!["basarili", "success"]),
        flag(),
        prop::sample::select(vec!["message", "mesaj"]),
        message(),
        unknown_fields(),
    )
        .prop_map(
            |(id_key, id, error, code, ok_key, ok, msg_key, msg, mut map)| {
                for (k, v) in [
                    (id_key, id),
                    ("error", error),
                    ("code", code),
                    (ok_key, ok),
                    (msg_key, msg),
                ] {
                    if let Some(v) = v {
                        map.insert(k.to_string(), v);
                    }
                }
                Value::Object(map)
            },
        )
}

/// What the push pipeline does with an answer to a create: the answer classified
/// (`LucaClient::write_once`), then the new id read from a clear answer (`Kind::created_id`).
fn created(status: u16, body: &str) -> Option<i64> {
    match classify(status, body) {
        Answer::Ok(v) => card_created_id(&v),
        _ => None,
    }
}

/// SPEC section 5, read independently of the code: a success carries the new id and no
/// error signal (`error: true`, a non-zero `code`, `basarili`/`success` false), in a JSON
/// answer that is neither an HTML page nor an HTTP error.
fn spec_success(status: u16, body: &str) -> Option<i64> {
    if status >= 400 {
        return None;
    }
    let v: Value = serde_json::from_str(body.trim_start_matches('\u{feff}').trim()).ok()?;
    let obj = v.as_object()?;
    let truthy = |k: &str| matches!(obj.get(k), Some(x) if *x == json!(true) || *x == json!("true") || *x == json!(1) || *x == json!("1"));
    let falsy = |k: &str| matches!(obj.get(k), Some(x) if *x == json!(false) || *x == json!("false") || *x == json!(0) || *x == json!("0"));
    let code_is_zero = match obj.get("code") {
        None | Some(Value::Null) => true,
        Some(c) => *c == json!(0) || *c == json!("0"),
    };
    if truthy("error") || !code_is_zero || falsy("basarili") || falsy("success") {
        return None;
    }
    ["skartId", "stokKartId"]
        .iter()
        .find_map(|k| match obj.get(*k)? {
            Value::Number(n) => n.as_i64(),
            Value::String(s) => s.trim().parse().ok(),
            _ => None,
        })
}

fn windows_1254(text: &str) -> Vec<u8> {
    encoding_rs::WINDOWS_1254.encode(text).0.into_owned()
}

/// The body as the client reads it (bytes, lossily as UTF-8: `LucaClient::send`).
fn as_read(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn html_page() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("<!DOCTYPE html><html><head><title>Luca Koza</title></head><body><h2>Beklenmedik bir hata oluştu</h2></body></html>".to_string()),
        Just("<html><body><form name=\"girisForm\" action=\"/Yetki/Giris.do\"></form></body></html>".to_string()),
        Just("<html><head><title>502 Bad Gateway</title></head></html>".to_string()),
        "[a-z ]{0,20}".prop_map(|t| format!("<html><body>{{\"skartId\": 5}} {t}</body></html>")),
    ]
}

proptest! {
    #![proptest_config(config())]

    /// Over every combination of signals, a create is a success exactly when SPEC says so.
    #[test]
    fn luca_create_answers_succeed_only_as_spec_says(
        answer in create_answer(),
        status in prop::sample::select(vec![200u16, 200, 200, 201, 302, 400, 404, 500, 502, 503]),
        pad in prop::sample::select(vec!["", " ", "\n", "\u{feff}"]),
    ) {
        let body = format!("{pad}{answer}{pad}");
        prop_assert_eq!(created(status, &body), spec_success(status, &body), "HTTP {} {}", status, body);
    }

    /// A create answer cut short is never a success, whatever it would have said.
    #[test]
    fn luca_truncated_answers_are_never_a_success(answer in create_answer(), cut in 0.0f64..1.0) {
        let text = answer.to_string();
        let cut = ((text.len() as f64 * cut) as usize).min(text.len() - 1);
        let cut = (0..=cut).rev().find(|&i| text.is_char_boundary(i)).unwrap_or(0);
        prop_assert_eq!(created(200, &text[..cut]), None, "{}", &text[..cut]);
    }

    /// Bytes in windows-1254 (Turkish letters of Luca's code page) read lossily change no
    /// verdict on the signals: an error stays an error, a success keeps its id.
    #[test]
    fn luca_windows_1254_answers_keep_their_verdict(answer in create_answer()) {
        let utf8 = answer.to_string();
        let body = as_read(&windows_1254(&utf8));
        prop_assert_eq!(created(200, &body), spec_success(200, &utf8), "{}", body);
    }

    /// HTML pages (crash pages, login pages, proxies), whatever they hold, are no success,
    /// and arbitrary bytes never panic.
    #[test]
    fn luca_html_and_arbitrary_bytes_are_no_success(
        page in html_page(),
        status in prop::sample::select(vec![200u16, 500, 502]),
        bytes in prop::collection::vec(any::<u8>(), 0..64),
    ) {
        let a = classify(status, &page);
        prop_assert!(matches!(a, Answer::Html { .. } | Answer::LoginPage(_)), "{:?}", a);
        prop_assert_eq!(created(status, &page), None);
        let body = as_read(&bytes);
        let shown = classify(200, &body).to_string();
        prop_assert!(!shown.contains('\n') || body.contains('\n'));
        prop_assert_eq!(created(200, &body), spec_success(200, &body));
    }
}

/// Each error shape of SPEC section 5 once, by name, with the verdict it must get.
#[test]
fn every_error_shape_of_the_spec_is_no_success() {
    let shapes = [
        (
            200,
            r#"{"error":true,"message":"[kartAdi] alanı zorunludur.","skartId":5}"#,
        ),
        (200, r#"{"error":true,"skartId":5}"#),
        (200, r#"{"code":7,"message":"Geçersiz istek","skartId":5}"#),
        (200, r#"{"code":7,"skartId":5}"#),
        (
            200,
            r#"{"code":1001,"message":"Login olunmalı.","skartId":5}"#,
        ),
        (200, r#"{"basarili":false,"mesaj":"Hata","skartId":5}"#),
        (200, r#"{"success":false,"skartId":5}"#),
        (
            200,
            r#"{"error":true,"message":"Kart kodu daha önce kullanılmış","skartId":5}"#,
        ),
        (200, r#"{"error":false,"message":"ok"}"#),
        (500, r#"{"skartId":5}"#),
        (200, "<html><body>Beklenmedik bir hata oluştu</body></html>"),
        (200, ""),
    ];
    for (status, body) in shapes {
        assert_eq!(created(status, body), None, "HTTP {status} {body}");
    }
    assert_eq!(
        created(200, r#"{"skartId":79409,"error":false}"#),
        Some(79409)
    );
    assert_eq!(created(200, r#"{"stokKartId":"12","code":0}"#), Some(12));
}
