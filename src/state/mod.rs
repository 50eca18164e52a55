//! What the exporter knows and when it asks: the store of every tenant's last good data and
//! refresh status, and the refreshers that call Graph on schedule, render each new state
//! through [`publish::Render`] and publish it. The store itself has no callbacks.

pub mod persist;
pub mod publish;
pub mod refresh;
pub mod store;

pub use publish::{Publisher, Render};
pub use store::{Store, TenantState};
