//! The Katana side of the sandbox, over real HTTP.

mod common;

use common::sandbox::*;
use katana_sync::sandbox::model::{Quantity, SalesOrder, wire};
use katana_sync::sandbox::{Faults, KatanaData, NewOrderRow, NewSalesOrder, SandboxOptions};
use rust_decimal::Decimal;
use serde_json::Value;

fn ids(body: &Value) -> Vec<i64> {
    body["data"]
        .as_array()
        .expect("data array")
        .iter()
        .map(|o| o["id"].as_i64().expect("id"))
        .collect()
}

#[tokio::test]
async fn limit_is_clamped_to_250_and_pagination_values_are_strings() {
    let sb = start(SandboxOptions {
        orders: 300,
        ..small()
    })
    .await;
    let live = sb.with_katana(|k| {
        k.sales_orders
            .values()
            .filter(|o| o.deleted_at.is_none())
            .count()
    });
    assert!(live > 250, "need more than one 250-page, have {live}");

    let r = katana(&sb, "/sales_orders?limit=1000").await;
    assert_eq!(r.status(), 200);
    let p = pagination(&r);
    let body: Value = r.json().await.expect("json");
    assert_eq!(ids(&body).len(), 250, "limit silently clamped");
    for key in [
        "total_records",
        "total_pages",
        "offset",
        "page",
        "first_page",
        "last_page",
    ] {
        assert!(p[key].is_string(), "{key} must be a string: {p}");
    }
    assert_eq!(p["total_records"], live.to_string());
    assert_eq!(p["total_pages"], "2");
    assert_eq!(p["first_page"], "true");
    assert_eq!(p["last_page"], "false");
    let first = ids(&body);
    assert!(
        first.windows(2).all(|w| w[0] > w[1]),
        "newest (highest id) first"
    );

    let r = katana(&sb, "/sales_orders?limit=1000&page=2").await;
    let p = pagination(&r);
    assert_eq!(p["offset"], "250");
    assert_eq!(p["page"], "2");
    assert_eq!(p["last_page"], "true");
    let second = ids(&r.json().await.expect("json"));
    assert_eq!(first.len() + second.len(), live);
    assert!(first.last() > second.first());

    // Default page size 50; the header is there on an empty page too.
    let r = katana(&sb, "/sales_orders").await;
    assert_eq!(ids(&r.json().await.expect("json")).len(), 50);
    let r = katana(&sb, "/sales_orders?page=99").await;
    let p = pagination(&r);
    assert_eq!(p["last_page"], "true");
    assert!(ids(&r.json().await.expect("json")).is_empty());

    // Bad paging parameters get Katana's validation error.
    let r = katana(&sb, "/sales_orders?limit=abc").await;
    assert_eq!(r.status(), 422);
    let body: Value = r.json().await.expect("json");
    assert_eq!(body["name"], "UnprocessableEntityError");
    sb.shutdown().await;
}

#[tokio::test]
async fn wire_types_follow_the_live_api() {
    let sb = start(small()).await;
    let body: Value = katana_json(&sb, "/sales_orders?limit=250").await;
    let orders = body["data"].as_array().expect("orders");
    let rows: Vec<&Value> = orders
        .iter()
        .flat_map(|o| o["sales_order_rows"].as_array().expect("rows"))
        .collect();
    assert!(rows.iter().all(|r| r["price_per_unit"].is_string()));
    assert!(
        rows.iter().any(|r| r["quantity"].is_string()),
        "some string quantities"
    );
    assert!(
        rows.iter().any(|r| r["quantity"].is_number()),
        "some number quantities"
    );
    assert!(orders.iter().all(|o| o["total"].is_number()));
    assert!(
        orders
            .iter()
            .any(|o| o["currency"] == "TRY" && o["conversion_rate"].is_null())
    );
    assert!(
        orders
            .iter()
            .any(|o| o["currency"] == "EUR" && o["conversion_rate"].is_number())
    );
    for status in [
        "PENDING",
        "NOT_SHIPPED",
        "PARTIALLY_PACKED",
        "PACKED",
        "PARTIALLY_DELIVERED",
        "DELIVERED",
    ] {
        let r = katana(&sb, &format!("/sales_orders?status={status}&limit=1")).await;
        let p = pagination(&r);
        assert_ne!(p["total_records"], "0", "an order in status {status}");
    }
    let created = orders[0]["created_at"].as_str().expect("created_at");
    assert!(created.ends_with('Z') && created.len() == 24, "{created}");

    let inv: Value = katana_json(&sb, "/inventory?limit=5").await;
    let level = &inv["data"][0];
    assert!(level["quantity_in_stock"].is_string());
    assert!(level["average_cost"].is_string());
    let tax: Value = katana_json(&sb, "/tax_rates").await;
    let rates: Vec<&Value> = tax["data"]
        .as_array()
        .expect("rates")
        .iter()
        .map(|t| &t["rate"])
        .collect();
    assert_eq!(rates.len(), 3);
    assert!(rates.iter().all(|r| r.is_number()));

    let products: Value = katana_json(&sb, "/products?limit=1").await;
    assert!(
        !products["data"][0]["variants"]
            .as_array()
            .expect("variants")
            .is_empty()
    );
    sb.shutdown().await;
}

#[tokio::test]
async fn the_bad_records_are_there() {
    let sb = start(small()).await;
    let k: KatanaData = sb.with_katana(|k| k.clone());
    let null_sku = k
        .variants
        .values()
        .find(|v| v.sku.is_none())
        .expect("null SKU");
    assert!(
        k.sales_order_rows
            .values()
            .any(|r| r.variant_id == null_sku.id)
    );
    assert!(
        k.sales_order_rows
            .values()
            .any(|r| !k.variants.contains_key(&r.variant_id))
    );
    assert!(
        k.sales_order_rows
            .values()
            .any(|r| r.tax_rate_id.is_some_and(|t| !k.tax_rates.contains_key(&t)))
    );
    assert!(
        k.sales_order_rows
            .values()
            .any(|r| r.price_per_unit == "12,5O")
    );
    assert!(
        k.sales_orders
            .values()
            .any(|o| o.currency == "EUR" && o.conversion_rate.is_none())
    );
    let clean = start(SandboxOptions {
        bad_records: false,
        ..small()
    })
    .await;
    clean.with_katana(|k| assert!(k.variants.values().all(|v| v.sku.is_some())));
    sb.shutdown().await;
    clean.shutdown().await;
}

#[tokio::test]
async fn updated_at_window_and_include_deleted() {
    let sb = start(small()).await;
    let (order_id, row_id, before) = sb.with_katana(|k| {
        let order: &SalesOrder = k
            .sales_orders
            .values()
            .rev()
            .find(|o| o.deleted_at.is_none() && k.order_rows(o.id).len() >= 2)
            .expect("an order with two rows");
        (order.id, k.order_rows(order.id)[0].id, order.updated_at)
    });
    let since = wire::format_time(katana_sync::sandbox::now());
    // A row deletion: the row moves, its order does not.
    assert!(sb.with_katana(|k| k.delete_order_row(row_id)));
    assert_eq!(
        sb.with_katana(|k| k.sales_orders[&order_id].updated_at),
        before
    );
    let r = katana(
        &sb,
        &format!("/sales_order_rows?updated_at_min={since}&include_deleted=true"),
    )
    .await;
    let rows: Value = r.json().await.expect("json");
    assert_eq!(ids(&rows), vec![row_id]);
    assert!(rows["data"][0]["deleted_at"].is_string());
    let r = katana(&sb, &format!("/sales_orders?ids={order_id}")).await;
    let order: Value = r.json().await.expect("json");
    let embedded: Vec<i64> = order["data"][0]["sales_order_rows"]
        .as_array()
        .expect("rows")
        .iter()
        .map(|r| r["id"].as_i64().expect("id"))
        .collect();
    assert!(!embedded.contains(&row_id), "deleted rows are not embedded");

    // An order deletion moves updated_at; only include_deleted shows it.
    assert!(sb.with_katana(|k| k.delete_sales_order(order_id)));
    let plain: Value = katana_json(&sb, &format!("/sales_orders?updated_at_min={since}")).await;
    assert!(ids(&plain).is_empty());
    let with_deleted: Value = katana_json(
        &sb,
        &format!("/sales_orders?updated_at_min={since}&include_deleted=true"),
    )
    .await;
    assert_eq!(ids(&with_deleted), vec![order_id]);

    // Bounds are inclusive at millisecond precision; ids[] works like ids.
    let stamp = sb.with_katana(|k| wire::format_time(k.sales_orders[&order_id].updated_at));
    let exact: Value = katana_json(&sb, &format!(
            "/sales_orders?updated_at_min={stamp}&updated_at_max={stamp}&include_deleted=true&ids[]={order_id}"
        )).await;
    assert_eq!(ids(&exact), vec![order_id]);
    let r = katana(&sb, "/sales_orders?updated_at_min=yesterday").await;
    assert_eq!(r.status(), 422);
    sb.shutdown().await;
}

#[tokio::test]
async fn mutators_stamp_and_create() {
    let sb = start(small()).await;
    let (customer, variant) = sb.with_katana(|k| {
        let c = k.create_customer("Ümit Çağlar");
        let p = k.create_product("Döküm Kapak Yeni", "pcs");
        let v = k
            .create_variant(
                p,
                Some("DKY-1"),
                Decimal::new(12_550, 2),
                &[("Renk", "Mavi")],
            )
            .expect("variant");
        (c, v)
    });
    let order = sb.with_katana(|k| {
        k.create_sales_order(NewSalesOrder::new(customer, 1001).row(NewOrderRow {
            variant_id: variant,
            quantity: Decimal::from(3),
            price_per_unit: Decimal::new(12_550, 2),
            tax_rate_id: Some(301),
        }))
    });
    let body: Value = katana_json(&sb, &format!("/sales_orders?ids={order}")).await;
    let o = &body["data"][0];
    assert_eq!(o["status"], "PENDING");
    assert_eq!(o["sales_order_rows"][0]["price_per_unit"], "125.5000000000");
    assert_eq!(o["total"].as_f64(), Some(451.8), "3 x 125.50 plus 20 % VAT");
    let variants: Value = katana_json(&sb, "/variants?sku=DKY-1&sku=nope").await;
    assert_eq!(
        variants["data"][0]["config_attributes"][0]["config_value"],
        "Mavi"
    );
    // Single records are bare objects; a deleted one is gone.
    let one = katana_json(&sb, &format!("/sales_orders/{order}")).await;
    assert_eq!(one["id"], order);
    assert_eq!(one["sales_order_rows"].as_array().map(Vec::len), Some(1));
    let v = katana_json(&sb, &format!("/variants/{variant}")).await;
    assert_eq!(v["sku"], "DKY-1");
    sb.with_katana(|k| k.soft_delete::<katana_sync::sandbox::model::Variant>(variant));
    assert_eq!(
        katana(&sb, &format!("/variants/{variant}")).await.status(),
        404
    );
    let row = sb.with_katana(|k| k.order_rows(order)[0].id);
    assert!(sb.with_katana(|k| k.edit_order_row(row, |r| r.quantity =
        Quantity::Text("5.00000".into()))));
    let total = sb.with_katana(|k| k.sales_orders[&order].total);
    assert_eq!(total, Decimal::new(75_300, 2), "5 x 125.50 x 1.2");
    sb.shutdown().await;
}

#[tokio::test]
async fn the_61st_request_in_a_minute_gets_429() {
    let sb = start(small()).await;
    let c = client();
    for i in 1..=60 {
        let r = c
            .get(format!("{}/locations", sb.katana_url()))
            .bearer_auth(KEY)
            .send()
            .await
            .expect("answer");
        assert_eq!(r.status(), 200, "request {i}");
        let remaining: u32 = r.headers()["x-ratelimit-remaining"]
            .to_str()
            .expect("ascii")
            .parse()
            .expect("number");
        assert_eq!(remaining, 60 - i);
        let reset: u128 = r.headers()["x-ratelimit-reset"]
            .to_str()
            .expect("ascii")
            .parse()
            .expect("number");
        assert!(reset > 1_000_000_000_000, "epoch milliseconds");
    }
    let r = c
        .get(format!("{}/locations", sb.katana_url()))
        .bearer_auth(KEY)
        .send()
        .await
        .expect("answer");
    assert_eq!(r.status(), 429);
    let retry: u64 = r.headers()["retry-after"]
        .to_str()
        .expect("ascii")
        .parse()
        .expect("seconds");
    assert!((1..=60).contains(&retry), "{retry}");
    assert_eq!(r.headers()["x-ratelimit-limit"], "60");
    let body: Value = r.json().await.expect("json");
    assert_eq!(
        body,
        serde_json::json!({"statusCode":429,"name":"TooManyRequests","message":"Too Many Requests"})
    );
    let stats = sb.stats();
    assert_eq!(stats.katana.rate_limited, 1);
    assert_eq!(stats.katana.max_requests_in_60s, 61);
    assert_eq!(stats.requests["GET /v1/locations"], 61);
    sb.shutdown().await;
}

#[tokio::test]
async fn a_wrong_or_missing_key_is_401() {
    let sb = start(small()).await;
    let c = client();
    for auth in [Some("Bearer wrong"), None, Some("sandbox-key")] {
        let mut req = c.get(format!("{}/customers", sb.katana_url()));
        if let Some(a) = auth {
            req = req.header("authorization", a);
        }
        let r = req.send().await.expect("answer");
        assert_eq!(r.status(), 401);
        let body: Value = r.json().await.expect("json");
        assert_eq!(
            body,
            serde_json::json!({"statusCode":401,"name":"UnauthorizedError","message":"Unauthorized"})
        );
    }
    assert_eq!(sb.stats().katana.unauthorized, 3);
    let r = katana(&sb, "/no_such_thing").await;
    assert_eq!(r.status(), 404);
    let body: Value = r.json().await.expect("json");
    assert_eq!(body["name"], "NotFoundError");
    sb.shutdown().await;
}

#[tokio::test]
async fn faults_burst_and_5xx() {
    let sb = start(small()).await;
    sb.set_faults("katana.burst429=2".parse::<Faults>().expect("spec"));
    for _ in 0..2 {
        let r = katana(&sb, "/locations").await;
        assert_eq!(r.status(), 429);
        assert_eq!(r.headers()["retry-after"], "1");
    }
    assert_eq!(katana(&sb, "/locations").await.status(), 200);
    sb.set_faults("http5xx=1".parse().expect("spec"));
    let r = katana(&sb, "/locations").await;
    assert!(r.status().is_server_error());
    let body: Value = r.json().await.expect("json body");
    assert!(body["statusCode"].as_u64().is_some_and(|s| s >= 500));
    sb.set_faults("katana.reset=1".parse().expect("spec"));
    let err = client()
        .get(format!("{}/locations", sb.katana_url()))
        .bearer_auth(KEY)
        .send()
        .await;
    assert!(err.is_err(), "the connection is dropped: {err:?}");
    let stats = sb.stats();
    assert_eq!(stats.katana.rate_limited, 2);
    assert_eq!(stats.katana.errors_5xx, 1);
    assert_eq!(stats.katana.resets, 1);
    sb.shutdown().await;
}

#[tokio::test]
async fn a_hook_edits_data_between_two_pages() {
    let sb = start(small()).await;
    let customer = sb.with_katana(|k| *k.customers.keys().next().expect("a customer"));
    sb.after_katana_requests(
        "/v1/sales_orders",
        1,
        Box::new(move |k| {
            k.create_sales_order(NewSalesOrder::new(customer, 1001));
        }),
    );
    let page1: Value = katana_json(&sb, "/sales_orders?limit=10&page=1").await;
    let page2: Value = katana_json(&sb, "/sales_orders?limit=10&page=2").await;
    // The new order pushed every record one place down: the last of page 1 comes again.
    assert_eq!(ids(&page2)[0], *ids(&page1).last().expect("ten ids"));
    sb.shutdown().await;
}
