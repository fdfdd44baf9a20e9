//! katana-sync: keeps Katana MRP and Luca Koza accounting in step through a local
//! SQLite store. The binary (`src/main.rs`) is a thin shell around [`commands::run`].
//!
//! Data flows one way through the layers: a remote client (`katana`, `luca`) yields
//! typed records, a sync pass (`sync`) maps them and writes the `store`; a push reads
//! the store and calls a remote client through the one exactly-once pipeline
//! (`sync::push`).

pub(crate) mod backoff;
pub mod cli;
pub mod commands;
pub mod config;
pub mod context;
pub mod entity;
pub mod error;
pub mod host;
pub(crate) mod katana;
pub(crate) mod luca;
pub mod metrics;
pub(crate) mod net;
pub mod pass;
pub mod progress;
pub mod report;
pub mod sandbox;
pub mod store;
pub mod sync;
pub(crate) mod time;

/// The parsers of remote answers, for the property tests (`tests/fuzz_parsers.rs`); not
/// an interface of the tool.
#[doc(hidden)]
pub mod parsers {
    pub use crate::katana::client::Pagination;
    pub use crate::katana::model::{SalesOrder, SalesOrderRow, decode_record};
    pub use crate::luca::answer::{Answer, classify};
    pub use crate::luca::cards::created_id as card_created_id;
    pub use crate::sync::orders::{Decoded, decode_order};
}
