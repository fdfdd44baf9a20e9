//! Sales invoices (`EkleFtrWsFaturaBaslik.do`) and despatch notes
//! (`EkleStkWsIrsaliyeBaslik.do`): create, and the lists by date that are the only way
//! to find one again. The list answers are one record per document line (the doc
//! summary's fields), or a header with its `detayList` (`?detayliListe=true`); both
//! are read into one [`Listed`] per document. Their shapes are unverified, so codes and
//! ids are read from any of the names seen, and a record without an id makes the whole
//! answer unreadable ("could not tell"), never a shorter list.

use std::collections::BTreeMap;
use std::str::FromStr as _;

use rust_decimal::Decimal;
use serde_json::{Value, json};

use super::answer::{id_field, text_field};
use super::{Error, LucaClient};

pub const CREATE_INVOICE: &str = "EkleFtrWsFaturaBaslik.do";
pub const LIST_INVOICES: &str = "ListeleFtrSsFaturaBaslik.do";
pub const CREATE_DESPATCH: &str = "EkleStkWsIrsaliyeBaslik.do";
/// With its lines: a despatch list without them could not be matched.
pub const LIST_DESPATCHES: &str = "ListeleStkSsIrsaliyeBaslik.do?detayliListe=true";

const INVOICE_ID: [&str; 3] = ["ssFaturaBaslikId", "faturaId", "faturaBaslikId"];
const DESPATCH_ID: [&str; 2] = ["ssIrsaliyeBaslikId", "irsaliyeId"];
const CARI: [&str; 4] = ["kategoriliKod", "cariKodu", "cariKod", "cariKategoriliKod"];
const STOCK_CODE: [&str; 4] = [
    "stokKartKategoriliKod",
    "stokKartKodu",
    "kartKodu",
    "stokKodu",
];

/// The family of a document list (the filter's wrapper and the create answer's id).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DocKind {
    Invoice,
    Despatch,
}

impl DocKind {
    fn ids(self) -> &'static [&'static str] {
        match self {
            DocKind::Invoice => &INVOICE_ID,
            DocKind::Despatch => &DESPATCH_ID,
        }
    }
}

/// One document line as a list shows it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Line {
    pub code: String,
    pub quantity: Decimal,
    pub price: Option<Decimal>,
}

/// One document of a list answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    pub id: i64,
    /// `Some` when the answer carries the field (its value may still be empty).
    pub takip_no: Option<Option<String>>,
    pub aciklama: Option<Option<String>>,
    pub cari: Option<String>,
    pub lines: Vec<Line>,
}

/// A number of an answer (a JSON number or a numeric string) as an exact decimal.
fn decimal(v: &Value, key: &str) -> Option<Decimal> {
    match v.get(key)? {
        Value::Number(n) => Decimal::from_str(&n.to_string())
            .or_else(|_| Decimal::from_scientific(&n.to_string()))
            .ok(),
        Value::String(s) => Decimal::from_str(s.trim().replace(',', ".").as_str()).ok(),
        _ => None,
    }
}

fn optional_text(v: &Value, key: &str) -> Option<Option<String>> {
    v.get(key).map(|x| {
        x.as_str()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
    })
}

fn line(v: &Value) -> Option<Line> {
    Some(Line {
        code: text_field(v, &STOCK_CODE)?.to_string(),
        quantity: decimal(v, "miktar")?.normalize(),
        price: decimal(v, "birimFiyat").map(|d| d.normalize()),
    })
}

/// Groups list records into documents.
pub fn read_list(kind: DocKind, items: &[Value]) -> Result<Vec<Listed>, String> {
    let mut docs: BTreeMap<i64, Listed> = BTreeMap::new();
    for item in items {
        let Some(id) = id_field(item, kind.ids()) else {
            return Err(format!(
                "a record without a document id: {}",
                super::answer::excerpt(&item.to_string())
            ));
        };
        let doc = docs.entry(id).or_insert_with(|| Listed {
            id,
            takip_no: optional_text(item, "belgeTakipNo"),
            aciklama: optional_text(item, "belgeAciklama"),
            cari: text_field(item, &CARI).map(str::to_string),
            lines: Vec::new(),
        });
        match item.get("detayList").and_then(Value::as_array) {
            Some(lines) => {
                for l in lines {
                    doc.lines.push(line(l).ok_or_else(|| {
                        format!("document {id} has a line without a stock code or quantity")
                    })?);
                }
            }
            None => {
                if let Some(l) = line(item) {
                    doc.lines.push(l);
                }
            }
        }
    }
    Ok(docs.into_values().collect())
}

/// The documents dated `date` (dd/MM/yyyy): the only filter the reference shows that
/// can find a document whose number Luca chose.
pub async fn list_on(
    luca: &LucaClient,
    kind: DocKind,
    date: &str,
    doc_type: i64,
) -> Result<Vec<Listed>, Error> {
    let range = json!({
        "gnlOrgSsBelge": {"belgeTarihiBas": date, "belgeTarihiBit": date, "belgeTarihiOp": "between"}
    });
    let (endpoint, body) = match kind {
        DocKind::Invoice => (
            LIST_INVOICES,
            json!({"ftrSsFaturaBaslik": range, "parUstHareketTuru": 18, "parAltHareketTuru": doc_type}),
        ),
        DocKind::Despatch => (LIST_DESPATCHES, json!({ "stkSsIrsaliyeBaslik": range })),
    };
    let items = luca.list_slow(endpoint, &body).await?;
    read_list(kind, &items).map_err(|detail| Error::NotAList {
        endpoint: endpoint.to_string(),
        detail,
    })
}

/// The new document's id in a create answer.
pub fn created_id(kind: DocKind, answer: &Value) -> Option<i64> {
    id_field(answer, kind.ids())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_records_group_into_documents_and_a_record_without_id_is_unreadable() {
        let items = vec![
            json!({"ssFaturaBaslikId": 7, "kategoriliKod": "K1", "stokKartKategoriliKod": "A", "miktar": 2, "birimFiyat": "10.50"}),
            json!({"ssFaturaBaslikId": 7, "kategoriliKod": "K1", "stokKartKategoriliKod": "B", "miktar": 1.0, "birimFiyat": 3}),
            json!({"ssFaturaBaslikId": 8, "belgeTakipNo": "SO-1", "kategoriliKod": "K2", "detayList": [{"kartKodu": "A", "miktar": 1, "birimFiyat": 1}]}),
        ];
        let docs = read_list(DocKind::Invoice, &items).unwrap();
        assert_eq!(docs.len(), 2);
        assert_eq!(docs[0].lines.len(), 2);
        assert_eq!(docs[0].lines[0].price, Some(Decimal::new(105, 1)));
        assert_eq!(docs[0].lines[1].quantity, Decimal::ONE);
        assert_eq!(docs[0].takip_no, None);
        assert_eq!(docs[1].takip_no, Some(Some("SO-1".into())));
        let bad = vec![json!({"kategoriliKod": "K1"})];
        assert!(read_list(DocKind::Invoice, &bad).is_err());
    }
}
