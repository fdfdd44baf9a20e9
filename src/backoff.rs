//! Full-jitter backoff for retried reads (both remotes): each delay is uniform in
//! `[0, min(30 s, 2^n s)]`, over backon's exponential schedule. (backon's own jitter
//! adds to the delay instead of drawing under it.) Creates are never retried here:
//! they go through the outbox's unknown path.

use std::time::Duration;

use backon::{BackoffBuilder as _, ExponentialBackoff, ExponentialBuilder};

pub struct Backoff(ExponentialBackoff);

impl Default for Backoff {
    fn default() -> Self {
        Backoff(
            ExponentialBuilder::default()
                .with_min_delay(Duration::from_secs(1))
                .with_max_delay(Duration::from_secs(30))
                .with_max_times(usize::MAX)
                .build(),
        )
    }
}

impl Backoff {
    pub fn next_delay(&mut self) -> Duration {
        let cap = self.0.next().unwrap_or(Duration::from_secs(30));
        cap.mul_f64(rand::random::<f64>())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_stay_under_the_exponential_cap() {
        let mut b = Backoff::default();
        for n in 0..10u32 {
            let cap = Duration::from_secs(2u64.pow(n).min(30));
            let d = b.next_delay();
            assert!(d <= cap, "delay {d:?} over cap {cap:?} at {n}");
        }
    }
}
