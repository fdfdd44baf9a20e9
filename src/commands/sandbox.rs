//! `katana-sync sandbox serve`. The implementation lives with the simulator
//! (`crate::sandbox::serve`), where the sandbox's own tests cover it; this module is the
//! command tree's entry point for it.

pub use crate::sandbox::{serve, serve_with};
