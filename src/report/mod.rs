//! The final report: the plain data model, the one place it is built (`build`), and the
//! writers that render it (text, json, junit, markdown, html, annotations; `file` writes safely).

mod model;

pub use model::*;

pub mod annotations;
pub mod bounded;
pub mod build;
pub mod degraded;
pub mod file;
#[cfg(test)]
pub(crate) mod fixtures;
#[cfg(test)]
pub(crate) mod golden;
pub mod histogram;
#[cfg(test)]
mod hostile_fields;
pub mod html;
pub mod json;
pub mod junit;
pub mod markdown;
pub mod outputs;
#[cfg(test)]
mod schema;
pub mod text;
pub mod verdict;
pub mod warnings;
pub mod wire;
