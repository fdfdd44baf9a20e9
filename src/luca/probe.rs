//! `doctor --probe`: establishes, once, what the reference leaves open about the tenant
//! (reliability.md, "MUST-VERIFY"): whether one user may hold several sessions, which
//! wrapper each list answers in, whether the invoice list returns `belgeTakipNo` /
//! `belgeAciklama`, and the read-after-write delay. It writes one clearly named test
//! card, cari and invoice, reads them back, and deletes what Luca lets it delete.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::answer::{Wrapper, id_field};
use super::{LucaClient, Outcome, cards};
use crate::config::MappingConfig;

pub const CUSTOMER_CREATE: &str = "EkleFinMusteriWS.do";
pub const CUSTOMER_LIST: &str = "ListeleFinMusteri.do";
pub const INVOICE_CREATE: &str = "EkleFtrWsFaturaBaslik.do";
pub const INVOICE_LIST: &str = "ListeleFtrSsFaturaBaslik.do";
pub const INVOICE_DELETE: &str = "SilFtrWsFaturaBaslik.do";

/// How long a new card may take to show in a listing before the probe gives up.
const READ_BACK_FOR: Duration = Duration::from_secs(10);

#[derive(Debug, Clone, Default)]
pub struct Findings {
    pub several_sessions: Option<bool>,
    pub wrappers: BTreeMap<String, Wrapper>,
    pub invoice_list_takip_no: Option<bool>,
    pub invoice_list_aciklama: Option<bool>,
    pub read_after_write_ms: Option<u64>,
    /// What the probe did, step by step, for people.
    pub log: Vec<String>,
    /// Test objects left in Luca (they could not be deleted), to remove by hand.
    pub left_behind: Vec<String>,
}

/// Runs the probe. Each step that fails is logged and the rest still run where they
/// can; an error is returned only when nothing can be learnt (no login).
pub async fn run(luca: &LucaClient, mapping: &MappingConfig) -> Result<Findings, super::Error> {
    let mut f = Findings {
        several_sessions: Some(luca.several_sessions_allowed().await?),
        ..Findings::default()
    };
    f.log.push(match f.several_sessions {
        Some(true) => "two sessions of this user stayed logged in at once".into(),
        _ => "a second login ended the first session: one session per user".into(),
    });
    let local = jiff::Timestamp::now().to_zoned_datetime(mapping.timezone.clone());
    let stamp = local.strftime("%Y%m%d%H%M%S").to_string();
    let today = super::date(local.date());
    let code = format!("KSPROBE-{stamp}");

    // The card, and how soon a listing shows it.
    let card = json!({
        "kartAdi": format!("katana-sync probe {stamp} - silinebilir"),
        "kartKodu": code,
        "kartTipi": 1,
        "kartTuru": 1,
        "baslangicTarihi": today,
        "olcumBirimiId": mapping.default_unit_id.max(1),
        "kategoriAgacKod": mapping.category_code,
        "satilabilirFlag": 1,
        "satinAlinabilirFlag": 1,
        "maliyetHesaplanacakFlag": true,
    });
    let sent = Instant::now();
    let card_id = match luca.write_once(cards::CREATE, &card).await? {
        Outcome::Done(answer) => cards::created_id(&answer),
        other => {
            f.log.push(format!(
                "test card {code} not created: {}",
                describe(&other)
            ));
            None
        }
    };
    if let Some(id) = card_id {
        f.log
            .push(format!("test card {code} created (skartId {id})"));
        loop {
            match cards::lookup(luca, &code).await {
                Ok(Some(_)) => {
                    let ms = sent.elapsed().as_millis() as u64;
                    f.read_after_write_ms = Some(ms);
                    f.log
                        .push(format!("the card showed in the listing after {ms} ms"));
                    break;
                }
                Ok(None) if sent.elapsed() < READ_BACK_FOR => {
                    tokio::time::sleep(Duration::from_millis(250)).await;
                }
                Ok(None) => {
                    f.log.push(format!(
                        "the card did not show in the listing within {} s",
                        READ_BACK_FOR.as_secs()
                    ));
                    break;
                }
                Err(e) => {
                    f.log.push(format!("reading the card back failed: {e}"));
                    break;
                }
            }
        }
    }

    // The cari.
    let cari_code = format!("{}P{stamp}", mapping.customer_code_prefix);
    let cari = json!({
        "tip": 1, "cariTipId": 5, "kartKod": cari_code,
        "tanim": format!("katana-sync probe {stamp}"),
        "kisaAd": "katana-sync probe", "yasalUnvan": "katana-sync probe",
        "paraBirimKod": "TRY",
    });
    let cari_made = match luca.write_once(CUSTOMER_CREATE, &cari).await? {
        Outcome::Done(answer) => {
            f.log.push(format!(
                "test cari {cari_code} created (finansalNesneId {})",
                id_field(&answer, &["finansalNesneId"])
                    .map_or("not in the answer".into(), |i| i.to_string())
            ));
            let filter = json!({"finMusteri": {"gnlFinansalNesne": {
                "kodBas": cari_code, "kodBit": cari_code, "kodOp": "between"}}});
            if let Err(e) = luca.list(CUSTOMER_LIST, &filter).await {
                f.log.push(format!("reading the cari back failed: {e}"));
            }
            f.left_behind.push(format!(
                "cari {cari_code} (Luca documents no delete for accounts)"
            ));
            true
        }
        other => {
            f.log.push(format!(
                "test cari {cari_code} not created: {}",
                describe(&other)
            ));
            false
        }
    };

    // The invoice, read back by its date, then deleted.
    let depo = Some(mapping.default_warehouse.clone())
        .filter(|d| !d.is_empty())
        .or_else(|| mapping.warehouses.values().next().cloned());
    let depo: Option<String> = depo;
    let mut invoice_id = None;
    if let (Some(_), true, Some(depo)) = (card_id, cari_made, depo) {
        let takip = format!("KSPROBE-{stamp}");
        let aciklama = format!("katana-sync probe {takip}");
        let invoice = json!({
            "belgeSeri": mapping.invoice_series,
            "belgeTarihi": today, "vadeTarihi": today, "duzenlemeSaati": "12:00",
            "belgeTakipNo": takip, "belgeAciklama": aciklama,
            "belgeTurDetayId": mapping.invoice_doc_type, "faturaTur": "1",
            "paraBirimKod": "TRY", "kurBedeli": 1, "kdvFlag": false, "musteriTedarikci": "1",
            "cariKodu": cari_code, "cariTip": 1, "cariTanim": format!("katana-sync probe {stamp}"),
            "detayList": [{
                "kartTuru": 1, "kartKodu": code, "birimFiyat": 1, "miktar": 1,
                "kdvOran": super::number(rust_decimal::Decimal::new(20, 2)), "depoKodu": depo,
            }],
        });
        match luca.write_once(INVOICE_CREATE, &invoice).await? {
            Outcome::Done(answer) => {
                invoice_id = id_field(&answer, &["ssFaturaBaslikId", "faturaId"]);
                f.log.push(format!(
                    "test invoice {takip} created (ssFaturaBaslikId {})",
                    invoice_id.map_or("not in the answer".into(), |i| i.to_string())
                ));
                let filter = json!({
                    "ftrSsFaturaBaslik": {"gnlOrgSsBelge": {
                        "belgeTarihiBas": today, "belgeTarihiBit": today, "belgeTarihiOp": "between"}},
                    "parUstHareketTuru": 18, "parAltHareketTuru": mapping.invoice_doc_type,
                });
                match luca.list(INVOICE_LIST, &filter).await {
                    Ok(items) => {
                        let ours: Vec<&Value> = items
                            .iter()
                            .filter(|i| {
                                invoice_id.is_some()
                                    && id_field(i, &["ssFaturaBaslikId"]) == invoice_id
                            })
                            .collect();
                        if ours.is_empty() {
                            f.log
                                .push("the invoice did not show in the list of its date".into());
                        } else {
                            let has = |key: &str, want: &str| {
                                ours.iter()
                                    .any(|i| i.get(key).and_then(Value::as_str) == Some(want))
                            };
                            f.invoice_list_takip_no = Some(has("belgeTakipNo", &takip));
                            f.invoice_list_aciklama = Some(has("belgeAciklama", &aciklama));
                            f.log.push(format!(
                                "the invoice list gave {} record(s) for it; belgeTakipNo {}, belgeAciklama {}",
                                ours.len(),
                                yes_no(f.invoice_list_takip_no),
                                yes_no(f.invoice_list_aciklama)
                            ));
                        }
                    }
                    Err(e) => f.log.push(format!("listing the invoices failed: {e}")),
                }
            }
            other => f
                .log
                .push(format!("test invoice not created: {}", describe(&other))),
        }
    } else {
        f.log.push(
            "no test invoice (it needs the card, the cari and a warehouse code in [mapping])"
                .into(),
        );
    }

    // Clean up what Luca lets go: the invoice first, since a card used in a document
    // cannot be deleted.
    if let Some(id) = invoice_id {
        match luca
            .write_once(INVOICE_DELETE, &json!({"ssFaturaBaslikId": id}))
            .await?
        {
            Outcome::Done(_) => f.log.push(format!("test invoice {id} deleted")),
            other => {
                f.left_behind.push(format!(
                    "invoice ssFaturaBaslikId {id} ({})",
                    describe(&other)
                ));
            }
        }
    }
    if let Some(id) = card_id {
        match cards::delete(luca, id).await? {
            Outcome::Done(_) => f.log.push(format!("test card {code} deleted")),
            other => f
                .left_behind
                .push(format!("card {code} ({})", describe(&other))),
        }
    }
    f.wrappers = luca.wrappers_seen();
    Ok(f)
}

fn describe(o: &Outcome) -> String {
    match o {
        Outcome::Done(_) => "done".into(),
        Outcome::Exists(m) => format!("Luca says it exists: {m}"),
        Outcome::Rejected(m) => format!("Luca refused it: {m}"),
        Outcome::Unknown(m) => format!("no clear answer: {m}"),
    }
}

fn yes_no(v: Option<bool>) -> &'static str {
    match v {
        Some(true) => "returned",
        Some(false) => "not returned",
        None => "not known",
    }
}
