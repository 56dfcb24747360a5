//! The engine: the schedule, its timer, the probes, and the Sample each probe ends in.

pub mod lane;
pub mod probe;
pub mod request;
pub mod sample;
pub mod scheduler;
pub mod status_set;
pub mod timer;
