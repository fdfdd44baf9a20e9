//! The Luca side of the sandbox, over real HTTP.

mod common;

use std::time::{Duration, Instant};

use common::sandbox::*;
use katana_sync::sandbox::Faults;
use katana_sync::sandbox::ledger::Origin;
use reqwest::header::CONTENT_TYPE;
use serde_json::{Value, json};

#[tokio::test]
async fn sessions_logins_and_branches() {
    let sb = start(small()).await;
    let c = client();
    let r = luca(&c, &sb, "ListeleStkSkart.do", &json!({})).await;
    assert_eq!(r, json!({"code": 1001, "message": "Login olunmalı."}));
    let r = luca(&c, &sb, "YdlUserResponsibilityOrgSs.do", &json!({})).await;
    assert_eq!(r, json!({"code": 1002, "message": "Login olunmalı."}));
    let r = login(&c, &sb, "wrong").await;
    assert_eq!(
        r,
        json!({"code": 99, "message": "Kullanıcı-Parola Bilgisi Yanlış!"})
    );

    let raw = luca_raw(
        &c,
        &sb,
        "Giris.do",
        &json!({"orgCode": 1000, "userName": "Admin", "userPassword": "sandbox"}),
    )
    .await;
    assert_eq!(raw.status(), 200);
    assert_eq!(
        raw.headers()[CONTENT_TYPE],
        "application/json; charset=UTF-8"
    );
    let cookies: Vec<&str> = raw
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().expect("ascii"))
        .collect();
    let session = cookies
        .iter()
        .find(|c| c.starts_with("JSESSIONID="))
        .expect("JSESSIONID cookie");
    assert!(session.contains('!') && session.contains("Path=/") && session.contains("HttpOnly"));
    assert!(cookies.iter().any(|c| c.starts_with("NSC_")));
    let body: Value = raw.json().await.expect("json");
    assert_eq!(body["code"], 0);

    let branches = luca(&c, &sb, "YdlUserResponsibilityOrgSs.do", &json!({})).await;
    assert_eq!(
        branches[0],
        json!({"ack": "Demo Üretim A.Ş. - Merkez", "id": 1})
    );
    assert_eq!(branches[1]["id"], 2);

    // Logged in, no branch chosen: a plain-text answer.
    let r = luca_raw(&c, &sb, "ListeleStkSkart.do", &json!({})).await;
    assert!(
        r.headers()[CONTENT_TYPE]
            .to_str()
            .expect("ascii")
            .starts_with("text/plain")
    );
    let text = r.text().await.expect("text");
    assert!(
        serde_json::from_str::<Value>(&text).is_err(),
        "not JSON: {text}"
    );

    let r = luca(
        &c,
        &sb,
        "GuncelleYtkSirketSubeDegistir.do",
        &json!({"orgSirketSubeId": 9}),
    )
    .await;
    assert_eq!(r["error"], true);
    let r = luca(
        &c,
        &sb,
        "GuncelleYtkSirketSubeDegistir.do",
        &json!({"orgSirketSubeId": "1"}),
    )
    .await;
    assert_eq!(
        r,
        json!({"message": "Oturumda Çalıştığınız Şirket Şube Başarıyla Değiştirildi.",
               "sirketSubeAdi": "Demo Üretim A.Ş. - Merkez"})
    );
    let cards = luca(&c, &sb, "ListeleStkSkart.do", &json!({})).await;
    assert!(!cards["list"].as_array().expect("list").is_empty());
    let stats = sb.stats();
    assert_eq!((stats.luca.logins, stats.luca.failed_logins), (1, 1));

    sb.set_faults("bad_login=1".parse().expect("spec"));
    let r = login(&c, &sb, "sandbox").await;
    assert_eq!(r["code"], 99);
    sb.shutdown().await;
}

#[tokio::test]
async fn stock_card_answers() {
    let sb = start(small()).await;
    let c = luca_session(&sb).await;
    let ok = luca(
        &c,
        &sb,
        "EkleStkWsSkart.do",
        &card("YENI-001", "Çelik Raf / Mavi, 120 cm"),
    )
    .await;
    assert_eq!(ok["error"], false);
    assert!(ok["skartId"].as_i64().is_some());
    assert_eq!(
        ok["message"],
        "YENI-001 - Çelik Raf / Mavi, 120 cm stok kartı başarılı bir şekilde kaydedilmiştir."
    );
    let dup = luca(&c, &sb, "EkleStkWsSkart.do", &card("YENI-001", "Başka Ad")).await;
    assert_eq!(
        dup,
        json!({"error": true, "message": "Kart kodu daha önce kullanılmış"})
    );
    let mut missing = card("YENI-002", "x");
    missing.as_object_mut().expect("object").remove("kartAdi");
    let r = luca(&c, &sb, "EkleStkWsSkart.do", &missing).await;
    assert_eq!(
        r,
        json!({"error": true, "message": "[kartAdi] alanı zorunludur."})
    );
    // A body that does not parse: the bare flag, no message.
    let r = c
        .post(format!("{}/EkleStkWsSkart.do", sb.luca_url()))
        .header(CONTENT_TYPE, "application/json")
        .body("{\"kartAdi\": ")
        .send()
        .await
        .expect("answer");
    assert_eq!(
        r.json::<Value>().await.expect("json"),
        json!({"error": true})
    );

    // Exact lookup by code; a pre-existing card (created by a person) is there too.
    let seeded = sb.with_luca(|l| {
        l.branches[&1]
            .stock_cards
            .iter()
            .find(|c| c.origin == Origin::Seed)
            .map(|c| c.kart_kodu.clone())
            .expect("seeded card")
    });
    let sku_is_in_katana = sb.with_katana(|k| !k.variants_with_sku(&seeded).is_empty());
    assert!(sku_is_in_katana, "seeded cards carry Katana SKUs");
    let found = luca(
        &c,
        &sb,
        "ListeleStkSkart.do",
        &json!({"stkSkart": {"kodBas": "YENI-001", "kodBit": "YENI-001", "kodOp": "between"}}),
    )
    .await;
    let list = found["list"].as_array().expect("list");
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["kartKodu"], "YENI-001");

    // Without No-Paging only the first 20; with it everything.
    for i in 0..25 {
        let r = luca(
            &c,
            &sb,
            "EkleStkWsSkart.do",
            &card(&format!("TOPLU-{i:03}"), "Toplu"),
        )
        .await;
        assert_eq!(r["error"], false);
    }
    let paged = luca(&c, &sb, "ListeleStkSkart.do", &json!({})).await;
    assert_eq!(paged["list"].as_array().expect("list").len(), 20);
    let all: Value = c
        .post(format!("{}/ListeleStkSkart.do", sb.luca_url()))
        .header(CONTENT_TYPE, "application/json")
        .header("No-Paging", "true")
        .body("{}")
        .send()
        .await
        .expect("answer")
        .json()
        .await
        .expect("json");
    let total = sb.with_luca(|l| l.branches[&1].stock_cards.len());
    assert_eq!(all["list"].as_array().expect("list").len(), total);

    let stats = sb.stats();
    assert_eq!(stats.luca.creates.stock_card, 26);
    assert_eq!(stats.luca.duplicate_creates.stock_card, 1);
    assert_eq!(stats.requests["POST /Yetki/EkleStkWsSkart.do"], 29);

    // Delete: fine for an unused card.
    let id = ok["skartId"].clone();
    let r = luca(&c, &sb, "SilStkSkart.do", &json!({"skartId": id})).await;
    assert_eq!(r["error"], false, "{r}");
    let r = luca(&c, &sb, "SilStkSkart.do", &json!({"skartId": id})).await;
    assert_eq!(r["error"], true);
    sb.shutdown().await;
}

#[tokio::test]
async fn windows_1254_bodies_keep_turkish_text() {
    let sb = start(small()).await;
    let c = luca_session(&sb).await;
    let name = "ÇĞİÖŞÜçğıöşü Dökümhane";
    let body = card("TR-1254", name).to_string();
    let (bytes, _, unmappable) = encoding_rs::WINDOWS_1254.encode(&body);
    assert!(!unmappable);
    assert_ne!(bytes.as_ref(), body.as_bytes(), "really not UTF-8");
    let r: Value = c
        .post(format!("{}/EkleStkWsSkart.do", sb.luca_url()))
        .header(CONTENT_TYPE, "application/json; charset=windows-1254")
        .body(bytes.into_owned())
        .send()
        .await
        .expect("answer")
        .json()
        .await
        .expect("json");
    assert_eq!(r["error"], false, "{r}");
    sb.with_luca(|l| {
        let cards = l.stock_cards_with_code(1, "TR-1254");
        assert_eq!(cards.len(), 1);
        assert_eq!(cards[0].kart_adi, name);
        assert_eq!(cards[0].raw.as_deref(), Some(body.as_str()));
    });
    // Text Luca's Windows-1254 store cannot hold is refused without a message.
    let r = luca(&c, &sb, "EkleStkWsSkart.do", &card("PL-1", "Łódź Metal")).await;
    assert_eq!(r, json!({"error": true}));
    sb.shutdown().await;
}

#[tokio::test]
async fn html_pages_for_crashes_and_outages() {
    let sb = start(small()).await;
    let c = luca_session(&sb).await;
    sb.set_faults("luca.http5xx=1".parse::<Faults>().expect("spec"));
    let r = luca_raw(&c, &sb, "ListeleStkDepo.do", &json!({})).await;
    assert_eq!(r.status(), 500);
    assert!(
        r.headers()[CONTENT_TYPE]
            .to_str()
            .expect("ascii")
            .starts_with("text/html")
    );
    assert!(
        r.text()
            .await
            .expect("text")
            .contains("Beklenmedik bir hata oluştu")
    );
    sb.set_faults("luca_down=1".parse().expect("spec"));
    let r = luca_raw(&c, &sb, "Giris.do", &json!({})).await;
    assert_eq!(r.status(), 503);
    assert!(r.text().await.expect("text").starts_with("<html>"));
    sb.set_faults("lookup_fail=html".parse().expect("spec"));
    let r = luca_raw(&c, &sb, "ListeleStkDepo.do", &json!({})).await;
    assert_eq!(r.status(), 200, "an HTML page with HTTP 200");
    assert!(r.text().await.expect("text").contains("<html>"));
    sb.set_faults("lookup_fail=error".parse().expect("spec"));
    let r = luca(&c, &sb, "ListeleFinMusteri.do", &json!({})).await;
    assert_eq!(r, json!({"error": true}));
    sb.set_faults(Faults::default());
    let r = luca(&c, &sb, "ListeleStkDepo.do", &json!({})).await;
    assert_eq!(r["data"][0]["kod"], "001");
    let stats = sb.stats();
    assert_eq!(stats.luca.errors_5xx, 2);
    assert_eq!(stats.luca.lookup_failures, 2);
    let r = luca_raw(&c, &sb, "NoSuchThing.do", &json!({})).await;
    assert_eq!(r.status(), 404);
    sb.shutdown().await;
}

#[tokio::test]
async fn lost_answers_still_create() {
    let sb = start(small()).await;
    let c = luca_session(&sb).await;
    sb.set_faults("luca.lost=1".parse().expect("spec"));
    // Both ways of losing an answer, in turn: the connection dies before any byte; then
    // the status line and half the body arrive and the connection dies.
    let send = |code: &str| {
        c.post(format!("{}/EkleStkWsSkart.do", sb.luca_url()))
            .header(CONTENT_TYPE, "application/json")
            .body(card(code, "Kayıp Yanıt").to_string())
            .send()
    };
    assert!(send("KAYIP-1").await.is_err(), "no answer at all");
    let half = send("KAYIP-2").await.expect("a status line arrives");
    assert_eq!(half.status(), 200);
    assert!(half.text().await.is_err(), "but the body breaks off");
    for code in ["KAYIP-1", "KAYIP-2"] {
        sb.with_luca(|l| assert_eq!(l.stock_cards_with_code(1, code).len(), 1, "{code} stored"));
    }
    sb.set_faults(Faults::default());
    let again = luca(
        &c,
        &sb,
        "EkleStkWsSkart.do",
        &card("KAYIP-1", "Kayıp Yanıt"),
    )
    .await;
    assert_eq!(again["message"], "Kart kodu daha önce kullanılmış");
    let stats = sb.stats();
    assert_eq!(stats.luca.lost_responses, 2);
    assert_eq!(stats.luca.creates.stock_card, 2);
    assert_eq!(stats.luca.duplicate_creates.stock_card, 1);
    sb.shutdown().await;
}

#[tokio::test]
async fn serial_sessions_queue_parallel_requests() {
    let sb = start_with_faults("luca.serial=1").await;
    let c = luca_session(&sb).await;
    // One at a time on a session: nothing queues.
    for _ in 0..3 {
        luca(&c, &sb, "ListeleStkDepo.do", &json!({})).await;
    }
    let stats = sb.stats();
    assert_eq!(stats.luca.max_session_concurrency, 1);
    assert_eq!(stats.luca.queued_requests, 0);

    sb.set_faults("luca.serial=1,luca.latency=500".parse().expect("spec"));
    let started = Instant::now();
    let empty = json!({});
    let calls = (0..4).map(|_| luca(&c, &sb, "ListeleStkDepo.do", &empty));
    let answers = futures::future::join_all(calls).await;
    assert!(answers.iter().all(|a| a["data"].is_array()));
    // Serialised: four 500 ms requests cannot finish in less than 2 s.
    assert!(started.elapsed() >= Duration::from_millis(2000));
    let stats = sb.stats();
    assert!(stats.luca.max_session_concurrency >= 2, "{:?}", stats.luca);
    assert!(stats.luca.queued_requests >= 1, "{:?}", stats.luca);
    sb.shutdown().await;
}

#[tokio::test]
async fn sessions_expire_after_n_requests() {
    let sb = start_with_faults("luca.expire_every=3").await;
    let c = luca_session(&sb).await; // the branch choice is request 1
    for _ in 0..2 {
        let r = luca(&c, &sb, "ListeleStkDepo.do", &json!({})).await;
        assert!(r["data"].is_array());
    }
    let expired = luca(&c, &sb, "ListeleStkDepo.do", &json!({})).await;
    assert_eq!(expired, json!({"code": 1001, "message": "Login olunmalı."}));
    // The next expiry answers with the HTML login page instead.
    let c = luca_session(&sb).await;
    for _ in 0..2 {
        luca(&c, &sb, "ListeleStkDepo.do", &json!({})).await;
    }
    let r = luca_raw(&c, &sb, "ListeleStkDepo.do", &json!({})).await;
    assert!(r.text().await.expect("text").contains("<form"));
    assert_eq!(sb.stats().luca.session_expiries, 2);
    sb.shutdown().await;
}

#[tokio::test]
async fn caris_invoices_and_stock() {
    let sb = start(small()).await;
    let c = luca_session(&sb).await;
    let cari = json!({"tip": 1, "cariTipId": 5, "kartKod": "K09990001", "tanim": "Yıldız Makine A.Ş.",
                      "vergiNo": "1234567890", "paraBirimKod": "TRY"});
    let first = luca(&c, &sb, "EkleFinMusteriWS.do", &cari).await;
    assert_eq!(first["error"], false);
    let second = luca(&c, &sb, "EkleFinMusteriWS.do", &cari).await;
    assert_eq!(
        second["error"], false,
        "Luca takes a second cari with the same code"
    );
    assert_ne!(first["finansalNesneId"], second["finansalNesneId"]);
    let listed = luca(
        &c,
        &sb,
        "ListeleFinMusteri.do",
        &json!({"finMusteri": {"gnlFinansalNesne": {"kodBas": "K09990001", "kodBit": "K09990001", "kodOp": "between"}}}),
    )
    .await;
    assert_eq!(listed.as_array().expect("a bare array").len(), 2);
    // The reference shows no tax-number filter: it is ignored, and the answer is the
    // whole ledger, never only the accounts with that number.
    let by_tax = luca(
        &c,
        &sb,
        "ListeleFinMusteri.do",
        &json!({"finMusteri": {"gnlFinansalNesne": {"vergiNo": "1234567890"}}}),
    )
    .await;
    let everything = luca(&c, &sb, "ListeleFinMusteri.do", &json!({})).await;
    assert!(by_tax.as_array().expect("array").len() > 2);
    assert_eq!(by_tax, everything);

    assert_eq!(
        luca(&c, &sb, "EkleStkWsSkart.do", &card("FTR-1", "Fatura Kartı")).await["error"],
        false
    );
    let mut invoice = json!({
        "belgeSeri": "A", "belgeTarihi": "28/11/2026", "duzenlemeSaati": "10:00",
        "belgeTakipNo": "SO-9001", "belgeTurDetayId": "76", "faturaTur": "1",
        "paraBirimKod": "TRY", "kurBedeli": 1, "kdvFlag": false, "musteriTedarikci": "1",
        "cariKodu": "K09990001",
        "detayList": [{"kartTuru": 1, "kartKodu": "FTR-1", "birimFiyat": 100.5, "miktar": 2,
                       "kdvOran": 0.2, "depoKodu": "001"}]
    });
    let ok = luca(&c, &sb, "EkleFtrWsFaturaBaslik.do", &invoice).await;
    assert_eq!(ok["error"], false, "{ok}");
    assert!(ok["ssFaturaBaslikId"].as_i64().is_some());
    let dup = luca(&c, &sb, "EkleFtrWsFaturaBaslik.do", &invoice).await;
    assert_eq!(dup["error"], false, "no belgeTakipNo check");
    invoice["belgeSeri"] = json!("XYZ");
    let r = luca(&c, &sb, "EkleFtrWsFaturaBaslik.do", &invoice).await;
    assert_eq!(
        r,
        json!({"error": true, "message": "Belge Seri bulunamadı!"})
    );
    invoice["belgeSeri"] = json!("A");
    invoice["detayList"][0]["kartKodu"] = json!("YOK-1");
    let r = luca(&c, &sb, "EkleFtrWsFaturaBaslik.do", &invoice).await;
    assert!(
        r["message"]
            .as_str()
            .expect("message")
            .contains("stok kartı bulunamadı")
    );
    invoice["detayList"][0]["kartKodu"] = json!("FTR-1");
    invoice["cariKodu"] = json!("K00000000");
    let r = luca(&c, &sb, "EkleFtrWsFaturaBaslik.do", &invoice).await;
    assert_eq!(r["error"], true);
    let by_takip = json!({"ftrSsFaturaBaslik": {"gnlOrgSsBelge": {"belgeTakipNoBas": "SO-9001", "belgeTakipNoBit": "SO-9001", "belgeTakipNoOp": "between"}}});
    let found = luca(&c, &sb, "ListeleFtrSsFaturaBaslik.do", &by_takip).await;
    // One record per line, and (by default) no belgeTakipNo in the list.
    let list = found["list"].as_array().expect("list");
    assert_eq!(list.len(), 2);
    assert!(list[0].get("belgeTakipNo").is_none(), "{}", list[0]);
    assert_eq!(list[0]["stokKartKategoriliKod"], "FTR-1");
    sb.set_faults("luca.rich_invoices=1".parse().unwrap());
    let found = luca(&c, &sb, "ListeleFtrSsFaturaBaslik.do", &by_takip).await;
    assert_eq!(found["list"][0]["belgeTakipNo"], "SO-9001");
    sb.set_faults(Default::default());

    // Stock: slips in and out, invoices out; read back per warehouse.
    let slip = json!({"belgeSeri": "A", "belgeTurDetayId": 150, "belgeTarihi": "28/11/2026",
                      "depoKodu": "001", "detayList": [{"kartKodu": "FTR-1", "miktar": 10}]});
    assert_eq!(
        luca(&c, &sb, "EkleStkWsDshBaslik.do", &slip).await["error"],
        false
    );
    let depo = sb.with_luca(|l| l.branches[&1].warehouses[0].depo_id);
    let on_hand = luca(
        &c,
        &sb,
        &format!("ListeleStkSsEldekiMiktar.do?cagirilanKart=depo&stkDepo.depoId={depo}"),
        &json!({}),
    )
    .await;
    let line = on_hand["list"]
        .as_array()
        .expect("list")
        .iter()
        .find(|l| l["kartKodu"] == "FTR-1")
        .cloned()
        .expect("FTR-1 on hand");
    assert_eq!(
        line["eldekiMiktar"].as_f64(),
        Some(6.0),
        "10 in, 2 x 2 invoiced"
    );

    let despatch = json!({"belgeSeri": "A", "belgeTarihi": "28/11/2026", "belgeTakipNo": "SO-9001",
                          "belgeTurDetayId": 52, "musteriTedarikci": 1, "cariKodu": "K09990001",
                          "detayList": [{"kartKodu": "FTR-1", "miktar": 2, "depoKodu": "001"}]});
    assert_eq!(
        luca(&c, &sb, "EkleStkWsIrsaliyeBaslik.do", &despatch).await["error"],
        false
    );
    let depo_dup = luca(
        &c,
        &sb,
        "EkleStkWsDepo.do",
        &json!({"kod": "001", "tanim": "Tekrar"}),
    )
    .await;
    assert_eq!(
        depo_dup,
        json!({"error": true, "message": "Depo kodu kullanımda!"})
    );
    // A card on an invoice cannot be deleted.
    let id = sb.with_luca(|l| l.stock_cards_with_code(1, "FTR-1")[0].skart_id);
    let r = luca(&c, &sb, "SilStkSkart.do", &json!({"skartId": id})).await;
    assert_eq!(r["error"], true);

    let stats = sb.stats();
    assert_eq!(stats.luca.creates.customer, 2);
    assert_eq!(stats.luca.duplicate_creates.customer, 1);
    assert_eq!(stats.luca.creates.invoice, 2);
    // Every later attempt on SO-9001 counts, accepted or refused.
    assert_eq!(stats.luca.duplicate_creates.invoice, 4);
    assert_eq!(stats.luca.creates.stock_slip, 1);
    assert_eq!(stats.luca.creates.despatch, 1);
    assert_eq!(stats.luca.duplicate_creates.warehouse, 1);
    sb.shutdown().await;
}
