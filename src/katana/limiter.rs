//! The Katana rate limit: `requests_per_minute` must hold in every 60 s window, across
//! consecutive runs too.
//!
//! Two layers. A GCRA limiter (`governor`) paces requests the way Katana recommends
//! (about one a second after a short burst). GCRA alone cannot give the guarantee: its
//! burst plus its refill can exceed the limit inside one window, and it forgets the
//! previous run. So the hard bound is a sliding-window log of request times, loaded from
//! the store at start and written back on every request: a request waits until fewer
//! than `limit` requests were sent in the last window. The server's own signals
//! (`X-Ratelimit-Remaining: 0` with `X-Ratelimit-Reset`, a 429's `Retry-After`) add a
//! "blocked until" on top.

use std::collections::VecDeque;
use std::num::NonZeroU32;
use std::path::Path;
use std::sync::Mutex;
use std::time::Duration;

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use rusqlite::Connection;

/// The server's window plus a margin for the time a request spends in flight: our
/// clock stamps a request when it leaves, the server's when it arrives.
const WINDOW_MS: i64 = 61_000;

pub struct Limiter {
    limit: usize,
    gcra: DefaultDirectRateLimiter,
    state: Mutex<State>,
    log: Mutex<RateLog>,
}

struct State {
    recent: VecDeque<i64>,
    blocked_until_ms: Option<i64>,
}

pub fn now_ms() -> i64 {
    jiff::Timestamp::now().as_millisecond()
}

impl Limiter {
    /// A limiter whose request log lives in the store at `db` (its own connection, so it
    /// never interferes with the pass's transactions). With `defer`, request times are
    /// kept in memory and written by [`Limiter::flush`] (a dry run holds the store's
    /// write lock for its whole length).
    pub fn open(db: &Path, per_minute: u32, defer: bool) -> anyhow::Result<Limiter> {
        let per_minute = NonZeroU32::new(per_minute.max(1)).expect("at least 1");
        let burst = NonZeroU32::new((per_minute.get() / 6).max(1)).expect("at least 1");
        let gcra = RateLimiter::direct(Quota::per_minute(per_minute).allow_burst(burst));
        let log = RateLog::open(db, defer)?;
        let recent: VecDeque<i64> = log.load(now_ms() - WINDOW_MS)?.into();
        Ok(Limiter {
            limit: per_minute.get() as usize,
            gcra,
            state: Mutex::new(State {
                recent,
                blocked_until_ms: None,
            }),
            log: Mutex::new(log),
        })
    }

    /// Waits until a request may be sent, and records it as sent.
    pub async fn acquire(&self) {
        self.gcra.until_ready().await;
        loop {
            let now = now_ms();
            let taken = self
                .state
                .lock()
                .expect("limiter state")
                .take(self.limit, now);
            match taken {
                Ok(()) => {
                    self.log.lock().expect("rate log").record(now);
                    return;
                }
                Err(wait_ms) => {
                    tracing::debug!(wait_ms, "waiting for the Katana rate limit");
                    tokio::time::sleep(Duration::from_millis(wait_ms.max(1) as u64)).await;
                }
            }
        }
    }

    /// Holds every request until `until_ms` (from `X-Ratelimit-Reset` or `Retry-After`).
    pub fn block_until(&self, until_ms: i64) {
        let mut st = self.state.lock().expect("limiter state");
        st.blocked_until_ms = Some(st.blocked_until_ms.map_or(until_ms, |b| b.max(until_ms)));
    }

    /// Writes request times not yet in the store.
    pub fn flush(&self) {
        self.log.lock().expect("rate log").flush();
    }

    /// Requests in the current window (for tests).
    #[cfg(test)]
    fn recent_count(&self) -> usize {
        self.state.lock().expect("limiter state").recent.len()
    }
}

impl Drop for Limiter {
    fn drop(&mut self) {
        self.flush();
    }
}

impl State {
    /// Takes a slot at `now`, or says how long to wait for one.
    fn take(&mut self, limit: usize, now: i64) -> Result<(), i64> {
        while self.recent.front().is_some_and(|t| *t <= now - WINDOW_MS) {
            self.recent.pop_front();
        }
        let mut until = self.blocked_until_ms.filter(|t| *t > now);
        if self.recent.len() >= limit {
            let frees_at = self.recent[self.recent.len() - limit] + WINDOW_MS;
            until = Some(until.map_or(frees_at, |u| u.max(frees_at)));
        }
        match until {
            None => {
                self.recent.push_back(now);
                Ok(())
            }
            Some(t) => Err(t - now),
        }
    }
}

/// The store table `katana_requests`, through a connection of its own.
struct RateLog {
    conn: Connection,
    defer: bool,
    pending: Vec<i64>,
}

impl RateLog {
    fn open(db: &Path, defer: bool) -> anyhow::Result<RateLog> {
        let conn = Connection::open(db)?;
        conn.busy_timeout(Duration::from_millis(2000))?;
        // A request time is written to the WAL (so it survives the process, killed or
        // not) but not synced to the disk: only a power loss could lose it, and the
        // machine is down for longer than the 60 s window it matters for. Syncing cost
        // one fsync per Katana request.
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        crate::store::tune_checkpoints(&conn)?;
        Ok(RateLog {
            conn,
            defer,
            pending: Vec::new(),
        })
    }

    fn load(&self, since_ms: i64) -> anyhow::Result<Vec<i64>> {
        let mut stmt = self
            .conn
            .prepare("SELECT at_ms FROM katana_requests WHERE at_ms > ?1 ORDER BY at_ms")?;
        let times = stmt
            .query_map([since_ms], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        Ok(times)
    }

    fn record(&mut self, at_ms: i64) {
        self.pending.push(at_ms);
        if !self.defer {
            self.flush();
        }
    }

    fn flush(&mut self) {
        if self.pending.is_empty() {
            return;
        }
        let result = (|| -> rusqlite::Result<()> {
            let tx = self.conn.unchecked_transaction()?;
            for t in &self.pending {
                tx.execute("INSERT INTO katana_requests (at_ms) VALUES (?1)", [t])?;
            }
            tx.execute(
                "DELETE FROM katana_requests WHERE at_ms <= ?1",
                [now_ms() - WINDOW_MS],
            )?;
            tx.commit()
        })();
        match result {
            Ok(()) => self.pending.clear(),
            // Kept in memory: the next flush tries again. The in-process window is exact
            // either way; only a following run could see too few.
            Err(e) => tracing::debug!("rate log not written yet: {e}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_log_survives_into_the_next_process() {
        let (_d, store) = crate::store::temp_store();
        let db = store.path().to_path_buf();
        {
            let l = Limiter::open(&db, 600, false).unwrap();
            for _ in 0..5 {
                l.acquire().await;
            }
        }
        let l = Limiter::open(&db, 600, false).unwrap();
        assert_eq!(l.recent_count(), 5);
    }

    #[test]
    fn never_more_than_the_limit_in_any_window() {
        let mut st = State {
            recent: VecDeque::new(),
            blocked_until_ms: None,
        };
        let mut sent = Vec::new();
        let mut now = 0;
        // Ask for a slot every 100 ms for five minutes; take it when offered.
        while now < 300_000 {
            if st.take(10, now).is_ok() {
                sent.push(now);
            }
            now += 100;
        }
        for (i, t) in sent.iter().enumerate() {
            let in_window = sent[i..].iter().take_while(|u| **u < t + 60_000).count();
            assert!(
                in_window <= 10,
                "{in_window} requests in the window from {t}"
            );
        }
        assert!(
            sent.len() >= 40,
            "the limiter must not starve: {}",
            sent.len()
        );
    }

    #[test]
    fn a_server_block_holds_every_request() {
        let mut st = State {
            recent: VecDeque::new(),
            blocked_until_ms: Some(5_000),
        };
        assert_eq!(st.take(60, 1_000), Err(4_000));
        assert_eq!(st.take(60, 5_000), Ok(()));
    }
}
