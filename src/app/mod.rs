//! The application layer: the run loop and the wrapped command's supervision.

pub mod command;
pub mod run;
