//! A property test of the incremental pull against the sandbox: random creates, edits
//! and deletes between runs; after every run the store equals the sandbox's data.

mod common;

use common::{Env, Tool, clean};
use katana_sync::sandbox::model::{Customer, Quantity, SalesOrderStatus};
use katana_sync::sandbox::{KatanaData, NewOrderRow, NewSalesOrder};
use proptest::prelude::*;
use rust_decimal::Decimal;

#[derive(Debug, Clone)]
enum Op {
    CreateOrder {
        customer: usize,
        variant: usize,
        qty: u32,
    },
    SetStatus {
        order: usize,
        status: usize,
    },
    EditRow {
        row: usize,
        qty: u32,
    },
    AddRow {
        order: usize,
        variant: usize,
        qty: u32,
    },
    DeleteOrder {
        order: usize,
    },
    DeleteRow {
        row: usize,
    },
    CreateCustomer,
    RenameCustomer {
        customer: usize,
    },
    DeleteCustomer {
        customer: usize,
    },
}

fn op() -> impl Strategy<Value = Op> {
    let i = 0usize..1000;
    prop_oneof![
        (i.clone(), i.clone(), 1u32..20).prop_map(|(customer, variant, qty)| Op::CreateOrder {
            customer,
            variant,
            qty
        }),
        (i.clone(), 0usize..6).prop_map(|(order, status)| Op::SetStatus { order, status }),
        (i.clone(), 1u32..20).prop_map(|(row, qty)| Op::EditRow { row, qty }),
        (i.clone(), i.clone(), 1u32..20).prop_map(|(order, variant, qty)| Op::AddRow {
            order,
            variant,
            qty
        }),
        i.clone().prop_map(|order| Op::DeleteOrder { order }),
        i.clone().prop_map(|row| Op::DeleteRow { row }),
        Just(Op::CreateCustomer),
        i.clone()
            .prop_map(|customer| Op::RenameCustomer { customer }),
        i.prop_map(|customer| Op::DeleteCustomer { customer }),
    ]
}

fn pick<T: Copy>(items: &[T], i: usize) -> Option<T> {
    (!items.is_empty()).then(|| items[i % items.len()])
}

fn apply(k: &mut KatanaData, op: &Op) {
    let live_orders: Vec<i64> = k
        .sales_orders
        .values()
        .filter(|o| o.deleted_at.is_none())
        .map(|o| o.id)
        .collect();
    let live_rows: Vec<i64> = k
        .sales_order_rows
        .values()
        .filter(|r| r.deleted_at.is_none())
        .map(|r| r.id)
        .collect();
    let customers: Vec<i64> = k
        .customers
        .values()
        .filter(|c| c.deleted_at.is_none())
        .map(|c| c.id)
        .collect();
    let variants: Vec<i64> = k
        .variants
        .values()
        .filter(|v| v.deleted_at.is_none() && v.sku.is_some())
        .map(|v| v.id)
        .collect();
    let row = |variant, qty: u32| NewOrderRow {
        variant_id: variant,
        quantity: Decimal::from(qty),
        price_per_unit: Decimal::new(12_550, 2),
        tax_rate_id: Some(301),
    };
    match *op {
        Op::CreateOrder {
            customer,
            variant,
            qty,
        } => {
            if let (Some(c), Some(v)) = (pick(&customers, customer), pick(&variants, variant)) {
                let mut o = NewSalesOrder::new(c, 1001);
                o.status = SalesOrderStatus::NotShipped;
                o.rows.push(row(v, qty));
                k.create_sales_order(o);
            }
        }
        Op::SetStatus { order, status } => {
            if let Some(id) = pick(&live_orders, order) {
                k.edit_sales_order(id, |o| o.status = SalesOrderStatus::ALL[status]);
            }
        }
        Op::EditRow { row: r, qty } => {
            if let Some(id) = pick(&live_rows, r) {
                k.edit_order_row(id, |r| r.quantity = Quantity::Number(Decimal::from(qty)));
            }
        }
        Op::AddRow {
            order,
            variant,
            qty,
        } => {
            if let (Some(o), Some(v)) = (pick(&live_orders, order), pick(&variants, variant)) {
                k.add_order_row(o, row(v, qty));
            }
        }
        Op::DeleteOrder { order } => {
            if let Some(id) = pick(&live_orders, order) {
                k.delete_sales_order(id);
            }
        }
        Op::DeleteRow { row: r } => {
            if let Some(id) = pick(&live_rows, r) {
                k.delete_order_row(id);
            }
        }
        Op::CreateCustomer => {
            k.create_customer("Yeni Müşteri Ltd. Şti.");
        }
        Op::RenameCustomer { customer } => {
            if let Some(id) = pick(&customers, customer) {
                k.edit::<Customer>(id, |c| c.name = format!("{} (güncel)", c.name));
            }
        }
        Op::DeleteCustomer { customer } => {
            if let Some(id) = pick(&customers, customer) {
                k.soft_delete::<Customer>(id);
            }
        }
    }
}

/// The store mirrors the sandbox: every order (status, deletion), every row the store
/// knows (quantity, deletion), every customer (name, deletion).
fn assert_mirrored(env: &Env) -> Result<(), TestCaseError> {
    let (orders, rows, customers) = env.sandbox().with_katana(|k| {
        let orders: Vec<(i64, String, bool)> = k
            .sales_orders
            .values()
            .map(|o| (o.id, o.status.as_str().to_string(), o.deleted_at.is_some()))
            .collect();
        let rows: Vec<(i64, Decimal, bool)> = k
            .sales_order_rows
            .values()
            .map(|r| {
                (
                    r.id,
                    r.quantity.decimal().unwrap_or_default().normalize(),
                    r.deleted_at.is_some(),
                )
            })
            .collect();
        let customers: Vec<(i64, String, bool)> = k
            .customers
            .values()
            .map(|c| (c.id, c.name.clone(), c.deleted_at.is_some()))
            .collect();
        (orders, rows, customers)
    });
    let store = env.store();
    prop_assert_eq!(
        store
            .query_row("SELECT count(*) FROM sales_orders", [], |r| r
                .get::<_, i64>(0))
            .unwrap() as usize,
        orders.len()
    );
    for (id, status, deleted) in orders {
        let (s, d): (String, bool) = store
            .query_row(
                "SELECT status, deleted_at IS NOT NULL FROM sales_orders WHERE id = ?1",
                [id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .map_err(|e| TestCaseError::fail(format!("order {id}: {e}")))?;
        prop_assert_eq!((s, d), (status, deleted), "order {}", id);
    }
    for (id, qty, deleted) in rows {
        let found: Option<(String, bool)> = store
            .query_row(
                "SELECT quantity, deleted_at IS NOT NULL FROM sales_order_rows WHERE id = ?1",
                [id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .ok();
        match found {
            Some((q, d)) => {
                prop_assert_eq!(
                    q.parse::<Decimal>().unwrap().normalize(),
                    qty,
                    "row {} quantity",
                    id
                );
                prop_assert_eq!(d, deleted, "row {} deleted", id);
            }
            // A row deleted before the tool ever saw it need not be stored.
            None => prop_assert!(deleted, "live row {} missing", id),
        }
    }
    for (id, name, deleted) in customers {
        let (n, d): (String, bool) = store
            .query_row("SELECT name, deleted_at IS NOT NULL FROM partners WHERE kind = 'customer' AND id = ?1", [id], |r| Ok((r.get(0)?, r.get(1)?)))
            .map_err(|e| TestCaseError::fail(format!("customer {id}: {e}")))?;
        prop_assert_eq!((n, d), (name, deleted), "customer {}", id);
    }
    // Adjustments follow the rows: no live adjustment for a deleted row or order.
    let stale: i64 = store
        .query_row(
            "SELECT count(*) FROM adjustments a JOIN sales_order_rows r ON r.id = a.row_id
             JOIN sales_orders o ON o.id = a.order_id
             WHERE a.status IN ('pending','approved') AND (r.deleted_at IS NOT NULL OR o.deleted_at IS NOT NULL)",
            [],
            |r| r.get(0),
        )
        .unwrap();
    prop_assert_eq!(stale, 0);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 8, max_shrink_iters: 20, ..ProptestConfig::default() })]

    #[test]
    fn the_store_ends_equal_to_the_sandbox(rounds in proptest::collection::vec(proptest::collection::vec(op(), 1..8), 3)) {
        let env = Env::new(clean(25, 4, 12), Tool { page_size: 7, ..Tool::default() });
        for (i, ops) in rounds.iter().enumerate() {
            if i > 0 {
                env.sandbox().with_katana(|k| ops.iter().for_each(|op| apply(k, op)));
            }
            for args in [["customers", "pull"], ["orders", "pull"]] {
                let (code, run) = env.run_json(&args);
                prop_assert_eq!(code, 0, "{:?}: {}", args, run);
            }
            assert_mirrored(&env)?;
        }
    }
}
