//! Katana MRP: the client (auth, rate limit, paging, retries of GETs) and the model.

pub mod client;
mod limiter;
pub mod model;

pub use client::{Error, KatanaClient};
pub use limiter::Limiter;
