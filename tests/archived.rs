//! Archived products in Katana: hidden unless asked (`include_archived=true`), pulled
//! and kept with `archived_at`, and an order row on an archived variant is an ordinary
//! row, not an unknown variant.

mod common;

use common::{Env, Tool, clean};

#[test]
fn archived_products_are_pulled_kept_and_their_order_rows_are_ordinary() {
    let env = Env::new(clean(150, 45, 20), Tool::default()).in_process();
    let archived = env.sandbox().with_katana(|k| {
        k.products
            .values()
            .filter(|p| p.archived_at.is_some())
            .map(|p| p.id)
            .collect::<Vec<_>>()
    });
    assert!(!archived.is_empty(), "the sandbox seeds archived products");

    // Orders first: their rows' variants are unknown to the store and fetched by id,
    // archived ones included.
    let (code, run) = env.run_json(&["orders", "pull"]);
    assert_eq!(code, 0, "{run}");
    let ids: Vec<String> = archived.iter().map(i64::to_string).collect();
    let rows_on_archived = env.count(&format!(
        "SELECT count(*) FROM sales_order_rows r JOIN variants v ON v.id = r.variant_id
         WHERE v.product_id IN ({})",
        ids.join(",")
    ));
    let rows_expected: usize = env.sandbox().with_katana(|k| {
        k.sales_order_rows
            .values()
            .filter(|r| r.deleted_at.is_none())
            .filter(|r| {
                k.variants
                    .get(&r.variant_id)
                    .is_some_and(|v| v.product_id.is_some_and(|p| archived.contains(&p)))
            })
            .count()
    });
    assert!(
        rows_expected > 0,
        "some orders name an archived product's variant"
    );
    assert_eq!(rows_on_archived as usize, rows_expected);
    assert_eq!(
        env.count(
            "SELECT count(*) FROM quarantine WHERE resolved_at IS NULL AND reason LIKE '%variant%'"
        ),
        0
    );

    // The product pull keeps them, with archived_at.
    let (code, run) = env.run_json(&["products", "pull", "--from", "katana"]);
    assert_eq!(code, 0, "{run}");
    assert_eq!(
        env.count("SELECT count(*) FROM products WHERE archived_at IS NOT NULL") as usize,
        archived.len()
    );
    let all = env.sandbox().with_katana(|k| k.products.len());
    assert_eq!(env.count("SELECT count(*) FROM products") as usize, all);
}

#[test]
fn the_sandbox_hides_archived_products_unless_asked() {
    let env = Env::new(clean(0, 45, 5), Tool::default()).in_process();
    let base = env.sandbox().katana_url();
    let get = |query: &str| -> usize {
        env.block_on(async {
            let v: serde_json::Value = reqwest::Client::new()
                .get(format!("{base}/products?limit=250{query}"))
                .bearer_auth("sandbox-key")
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            v["data"].as_array().unwrap().len()
        })
    };
    let hidden = get("");
    let all = get("&include_archived=true");
    assert_eq!(all, 45);
    assert!(hidden < all, "{hidden} of {all}");
}
