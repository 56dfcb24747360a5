//! The final report: the plain data model, and the writers that render it.

mod model;

pub use model::*;

pub mod annotations;
pub mod file;
pub mod json;
pub mod junit;
pub mod markdown;
pub mod text;
