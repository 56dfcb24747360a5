//! Analysis: what the Sample stream means, without I/O.

pub mod clock;
pub mod outage;
pub mod phase;
pub mod recorder;
pub mod timeline;
