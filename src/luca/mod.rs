//! Luca Koza: the client (session pool, login and branch, charset, answer
//! classification) and the endpoints the sync uses, with their Turkish field names.

pub mod answer;
pub mod cards;
pub mod charset;
pub mod client;

pub use client::{Error, LucaClient, Outcome};

/// Luca dates are `dd/MM/yyyy`.
pub fn date(d: jiff::civil::Date) -> String {
    d.strftime("%d/%m/%Y").to_string()
}

#[cfg(test)]
mod tests {
    #[test]
    fn dates_are_day_month_year() {
        assert_eq!(super::date(jiff::civil::date(2022, 4, 6)), "06/04/2022");
    }
}
