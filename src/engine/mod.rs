//! The engine: the schedule, its timer, the probes, and the Sample each probe ends in.

pub mod detail;
pub mod lane;
pub mod probe;
pub mod request;
pub mod route;
pub mod sample;
pub mod scheduler;
pub mod stall;
pub mod status_set;
pub mod timer;
pub mod track;
