//! The incremental window of one Katana entity: `updated_at_min = watermark − lookback`,
//! `updated_at_max` fixed when the walk starts, `include_deleted=true`, walked page by
//! page with `limit = page_size` to the last page.
//!
//! The walk is resumable: every page's transaction saves the walk's cursor (the window's
//! bounds, the next page, the size the page reported) beside the page's records and
//! their judgement, and the last page's transaction moves the watermark and drops the
//! cursor instead. A run killed at any moment leaves either the page before or the page
//! after, and the next run carries on from there with the same window, so a backfill of
//! any size completes across short runs.
//!
//! Offset paging over a list that changes can skip a record. The window is fixed at
//! `updated_at_max`, so records only *leave* it while it is walked (an edit or a
//! deletion moves `updated_at` past the maximum); a record that leaves from a position
//! already read moves every later record one place forward, across a page boundary
//! already read. Each page reports the window's size: when it is `d` smaller than the
//! last page said, the walk backs up `d` positions and reads forward again from there
//! (upserts are idempotent), which covers every place a record can have moved into.
//! The records that left are newer than the window: the next window holds them. A
//! window that *grows* (which only clock skew between us and Katana can cause) may have
//! had records inserted anywhere, so its walk starts again from page 1.

use rusqlite::Connection;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::context::Ctx;
use crate::katana::KatanaClient;
use crate::progress::Progress;
use crate::store::watermarks::{Cursor, clear_cursor, save_cursor, set_watermark};

/// How often one walk may start again from page 1 because its window grew.
const MAX_RESTARTS: u32 = 2;

pub struct Window<'a, R = Value> {
    /// How the records of a page are decoded (see [`crate::katana::client::Page`]).
    records: std::marker::PhantomData<R>,
    client: &'a KatanaClient,
    entity: &'static str,
    path: &'static str,
    filters: Vec<(&'static str, String)>,
    cursor: Cursor,
    cold: bool,
    restarts: u32,
    done: bool,
    progress: Progress,
}

/// One page of a window. Its records go into the store in one transaction, together
/// with their judgement and [`WindowPage::save_position`].
pub struct WindowPage<R = Value> {
    pub records: Vec<R>,
    entity: &'static str,
    /// Where the walk stands once this page is stored.
    after: Cursor,
    /// The watermark this page sets, when it completes the walk.
    completes: Option<jiff::Timestamp>,
}

impl<R> WindowPage<R> {
    /// Records, in the page's transaction, that the walk has passed this page: the
    /// cursor moves on, or, when the page completes the walk, the watermark moves and
    /// the cursor goes.
    pub fn save_position(&self, conn: &Connection) -> anyhow::Result<()> {
        match self.completes {
            Some(hi) => {
                set_watermark(conn, self.entity, hi)?;
                clear_cursor(conn, self.entity)
            }
            None => save_cursor(conn, self.entity, &self.after),
        }
    }

    /// The watermark this page sets, if it completes the walk.
    pub fn completes(&self) -> Option<jiff::Timestamp> {
        self.completes
    }
}

/// How an entity is filtered (Katana's endpoints differ).
#[derive(Debug, Clone, Copy)]
pub struct Filters {
    pub include_deleted: bool,
}

impl<'a> Window<'a> {
    /// Opens the entity's window: the walk an earlier run left unfinished, else a new
    /// one from the watermark (less the lookback) to now.
    pub async fn open(
        ctx: &'a Ctx,
        entity: &'static str,
        path: &'static str,
        filters: Filters,
    ) -> anyhow::Result<Window<'a>> {
        Self::open_as(ctx, entity, path, filters).await
    }
}

impl<'a, R: DeserializeOwned> Window<'a, R> {
    /// [`Window::open`], the records of each page decoded as `R`.
    pub async fn open_as(
        ctx: &'a Ctx,
        entity: &'static str,
        path: &'static str,
        filters: Filters,
    ) -> anyhow::Result<Window<'a, R>> {
        let client = ctx.katana().await?;
        let watermark = ctx.store.watermark(entity)?;
        let page_size = client.page_size;
        let fresh = |watermark: Option<jiff::Timestamp>| -> anyhow::Result<Cursor> {
            let lo = match watermark {
                Some(w) => Some(w - jiff::SignedDuration::try_from(ctx.config.sync.lookback)?),
                None => None,
            };
            Ok(Cursor {
                lo,
                hi: jiff::Timestamp::now(),
                page_size,
                next_page: 1,
                last_total: None,
                started_at: crate::store::now(),
            })
        };
        let cursor = match ctx.store.cursor(entity)? {
            Some(c) if c.page_size == page_size => {
                tracing::info!(
                    "{entity}: resuming the walk started {} at page {}",
                    c.started_at,
                    c.next_page
                );
                c
            }
            Some(c) => {
                // Positions of a walk mean nothing at another page size.
                tracing::info!(
                    "{entity}: page_size changed from {} to {page_size}; the walk started {} \
                     begins again from page 1",
                    c.page_size,
                    c.started_at
                );
                Cursor {
                    page_size,
                    next_page: 1,
                    last_total: None,
                    ..c
                }
            }
            None => fresh(watermark)?,
        };
        let filters = if filters.include_deleted {
            vec![("include_deleted", "true".to_string())]
        } else {
            Vec::new()
        };
        tracing::debug!(entity, ?cursor, "window");
        let progress = Progress::new(ctx.progress, entity, cursor.last_total);
        progress.inc(u64::from(cursor.next_page - 1) * u64::from(page_size));
        Ok(Window {
            records: std::marker::PhantomData,
            client,
            entity,
            path,
            filters,
            cold: watermark.is_none(),
            cursor,
            restarts: 0,
            done: false,
            progress,
        })
    }

    /// True when the entity has no watermark yet (a backfill, maybe resumed).
    pub fn is_cold(&self) -> bool {
        self.cold
    }

    /// The upper bound of the window (the watermark it saves).
    pub fn hi(&self) -> jiff::Timestamp {
        self.cursor.hi
    }

    fn query(&self) -> Vec<(&'static str, String)> {
        let mut q = self.filters.clone();
        if let Some(lo) = self.cursor.lo {
            q.push(("updated_at_min", crate::time::format_ts(lo)));
        }
        q.push(("updated_at_max", crate::time::format_ts(self.cursor.hi)));
        q
    }

    pub async fn next(&mut self) -> anyhow::Result<Option<WindowPage<R>>> {
        if self.done {
            return Ok(None);
        }
        let n = self.cursor.next_page;
        let limit = u64::from(self.cursor.page_size);
        let page = self
            .client
            .page_of::<R>(self.path, &self.query(), n)
            .await?;
        let p = page.pagination;
        if let Some(total) = p.total_records {
            self.progress.set_total(total);
        }
        self.progress.inc(page.records.len() as u64);
        let is_last = page.records.is_empty()
            || p.last_page == Some(true)
            || match p.total_pages {
                Some(pages) => u64::from(n) >= pages,
                None => (page.records.len() as u64) < limit,
            };
        let mut next = match (self.cursor.last_total, p.total_records) {
            (Some(before), Some(now)) if now < before => {
                // Up to `before - now` records may have moved from unread positions
                // into the ones before this page: read again from the first of them.
                let start = u64::from(n - 1) * limit;
                let back_to = start.saturating_sub(before - now);
                let page_of = (back_to / limit) as u32 + 1;
                tracing::debug!(
                    "{}: {} record(s) left the window while it was read; reading again \
                     from page {page_of}",
                    self.entity,
                    before - now
                );
                page_of
            }
            (Some(before), Some(now)) if now > before => {
                if self.restarts < MAX_RESTARTS {
                    self.restarts += 1;
                    tracing::info!(
                        "{}: the window grew while it was read ({before} then {now} records; \
                         is the clock of this machine ahead of Katana's?); reading it again \
                         from page 1",
                        self.entity
                    );
                    1
                } else {
                    tracing::warn!(
                        "{}: the window keeps growing while it is read; carrying on (the \
                         overlap of the next window covers records that entered it)",
                        self.entity
                    );
                    n + 1
                }
            }
            _ => n + 1,
        };
        let mut completes = None;
        if is_last && next > n {
            completes = Some(self.cursor.hi);
            self.done = true;
            next = n;
        }
        self.cursor.next_page = next;
        self.cursor.last_total = if next == 1 { None } else { p.total_records };
        Ok(Some(WindowPage {
            records: page.records,
            entity: self.entity,
            after: self.cursor.clone(),
            completes,
        }))
    }
}
