//! The bottom layer: types and primitives with no knowledge of configuration, Graph, HTTP or
//! Prometheus. Everything else may use these; these use nothing of the crate above `core`.

pub mod band;
pub mod certificate;
pub mod clock;
pub mod cloud;
pub mod cpu_work;
pub mod deflate;
pub mod failure;
pub mod history;
pub mod intern;
pub mod memory;
pub mod names;
pub mod secret;
pub mod snapshot;
