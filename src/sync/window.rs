//! The incremental window of one Katana entity: `updated_at_min = watermark − lookback`,
//! `updated_at_max` fixed when the window opens, `include_deleted=true`, walked page by
//! page with `limit = page_size` to the last page.
//!
//! Offset paging over a changing list can skip a record: one that leaves the window
//! mid-walk (edited, so its `updated_at` passes the fixed maximum) shifts every later
//! record one place forward, across a page boundary already read. The window can only
//! shrink while we walk it, so a walk is consistent exactly when the last page reports
//! the same `total_records` as the first; otherwise it is walked again (upserts are
//! idempotent). Only a consistent walk moves the watermark, in the same transaction as
//! its last page.

use rusqlite::Connection;
use serde_json::Value;

use crate::context::Ctx;
use crate::katana::KatanaClient;
use crate::progress::Progress;
use crate::store::watermarks::set_watermark;

const MAX_WALKS: u32 = 3;

pub struct Window<'a> {
    client: &'a KatanaClient,
    entity: &'static str,
    path: &'static str,
    query: Vec<(&'static str, String)>,
    hi: jiff::Timestamp,
    cold: bool,
    next_page: u32,
    first_total: Option<u64>,
    walks: u32,
    done: bool,
    progress: Progress,
}

/// One page of a window. Its records go into the store in one transaction, together
/// with [`WindowPage::save_watermark`].
pub struct WindowPage {
    pub records: Vec<Value>,
    entity: &'static str,
    completes: Option<jiff::Timestamp>,
}

impl WindowPage {
    /// Moves the entity's watermark when this page completes a consistent walk.
    pub fn save_watermark(&self, conn: &Connection) -> anyhow::Result<()> {
        if let Some(hi) = self.completes {
            set_watermark(conn, self.entity, hi)?;
        }
        Ok(())
    }
}

/// How an entity is filtered (Katana's endpoints differ).
#[derive(Debug, Clone, Copy)]
pub struct Filters {
    pub include_deleted: bool,
}

impl<'a> Window<'a> {
    pub async fn open(
        ctx: &'a Ctx,
        entity: &'static str,
        path: &'static str,
        filters: Filters,
    ) -> anyhow::Result<Window<'a>> {
        let client = ctx.katana().await?;
        let hi = jiff::Timestamp::now();
        let watermark = ctx.store.watermark(entity)?;
        let mut query: Vec<(&'static str, String)> = Vec::new();
        if filters.include_deleted {
            query.push(("include_deleted", "true".into()));
        }
        if let Some(w) = watermark {
            let lookback = jiff::SignedDuration::try_from(ctx.config.sync.lookback)?;
            query.push(("updated_at_min", crate::store::format_ts(w - lookback)));
        }
        query.push(("updated_at_max", crate::store::format_ts(hi)));
        tracing::debug!(entity, ?query, "window");
        Ok(Window {
            client,
            entity,
            path,
            query,
            hi,
            cold: watermark.is_none(),
            next_page: 1,
            first_total: None,
            walks: 1,
            done: false,
            progress: Progress::new(ctx.progress, entity, None),
        })
    }

    /// True when the entity was never pulled (a backfill).
    pub fn is_cold(&self) -> bool {
        self.cold
    }

    /// The upper bound of the window (the watermark it saves).
    pub fn hi(&self) -> jiff::Timestamp {
        self.hi
    }

    pub async fn next(&mut self) -> anyhow::Result<Option<WindowPage>> {
        if self.done {
            return Ok(None);
        }
        let n = self.next_page;
        let page = self.client.page(self.path, &self.query, n).await?;
        let p = page.pagination;
        if n == 1 {
            self.first_total = p.total_records;
            if let Some(total) = p.total_records {
                self.progress.set_total(total);
            }
        }
        let is_last = page.records.is_empty()
            || p.last_page == Some(true)
            || match p.total_pages {
                Some(pages) => u64::from(n) >= pages,
                None => page.records.len() < self.client.page_size as usize,
            };
        self.progress.inc(page.records.len() as u64);
        let mut completes = None;
        if is_last {
            let consistent = match (self.first_total, p.total_records) {
                (Some(a), Some(b)) => a == b,
                _ => true,
            };
            if consistent {
                completes = Some(self.hi);
                self.done = true;
            } else if self.walks < MAX_WALKS {
                tracing::info!(
                    "{}: the window changed while it was read ({} then {} records); reading it again",
                    self.entity,
                    self.first_total.unwrap_or(0),
                    p.total_records.unwrap_or(0)
                );
                self.walks += 1;
                self.next_page = 1;
                self.first_total = None;
            } else {
                tracing::warn!(
                    "{}: the window kept changing while it was read; its watermark stays, \
                     the next run reads it again",
                    self.entity
                );
                self.done = true;
            }
        } else {
            self.next_page += 1;
        }
        Ok(Some(WindowPage {
            records: page.records,
            entity: self.entity,
            completes,
        }))
    }
}
