//! Luca Koza: the client (session pool, login and branch, charset, answer
//! classification) and the endpoints the sync uses, with their Turkish field names.

pub mod accounts;
pub mod answer;
pub mod cards;
pub mod charset;
pub mod client;
pub mod documents;
pub mod probe;
pub mod stock;

pub use client::{Error, LucaClient, Outcome};

/// A number as Luca's examples send it: a JSON number with the decimal's exact text
/// (`0.18`, never `"0.18"` nor a float's approximation); needs serde_json's
/// `arbitrary_precision`.
pub fn number(d: rust_decimal::Decimal) -> serde_json::Value {
    use std::str::FromStr as _;
    serde_json::Number::from_str(&d.normalize().to_string())
        .map(serde_json::Value::Number)
        .unwrap_or(serde_json::Value::Null)
}

/// Luca dates are `dd/MM/yyyy`.
pub fn date(d: jiff::civil::Date) -> String {
    d.strftime("%d/%m/%Y").to_string()
}

#[cfg(test)]
mod tests {
    #[test]
    fn numbers_go_out_with_their_exact_decimal_text() {
        let d = |s: &str| s.parse::<rust_decimal::Decimal>().unwrap();
        let body = serde_json::json!({"kdvOran": super::number(d("0.18")), "birimFiyat": super::number(d("32.8020"))});
        assert_eq!(body.to_string(), r#"{"birimFiyat":32.802,"kdvOran":0.18}"#);
        // More digits than an f64 holds survive too.
        assert_eq!(
            super::number(d("0.1234567890123456789")).to_string(),
            "0.1234567890123456789"
        );
    }

    #[test]
    fn dates_are_day_month_year() {
        assert_eq!(super::date(jiff::civil::date(2022, 4, 6)), "06/04/2022");
    }
}
