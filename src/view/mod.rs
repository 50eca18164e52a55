//! What people read: the one model of a tenant and of the fleet ([`model`], [`query`]), and the pages
//! and printable report drawn from it ([`fleet`], [`tenant`], with [`chart`] and [`html`]).
//! The HTTP layer serves these pages; `snapshot` prints the same model as JSON, CSV, Markdown
//! or the HTML report.

pub mod chart;
pub mod fleet;
pub mod html;
pub mod model;
pub mod query;
pub mod tenant;
