//! `customers pull` / `suppliers pull`: Katana customers and suppliers into the store.

use crate::context::Ctx;
use crate::katana::model::Partner;
use crate::report::Tally;
use crate::store::catalog::upsert_partner;

use super::window::Filters;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Customer,
    Supplier,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Customer => "customer",
            Kind::Supplier => "supplier",
        }
    }

    fn endpoint(self) -> (&'static str, &'static str) {
        match self {
            Kind::Customer => ("customers", "/customers"),
            Kind::Supplier => ("suppliers", "/suppliers"),
        }
    }
}

pub async fn pull(ctx: &Ctx, tally: &mut Tally, kind: Kind) -> anyhow::Result<()> {
    let (entity, path) = kind.endpoint();
    super::pull_entity::<Partner, _>(
        ctx,
        tally,
        entity,
        path,
        Filters {
            include_deleted: true,
        },
        |tx, p, raw, _| {
            let name = p
                .display_name()
                .unwrap_or_else(|| format!("{} {}", kind.as_str(), p.id));
            upsert_partner(tx, kind.as_str(), p, &name, raw)
        },
    )
    .await
}
