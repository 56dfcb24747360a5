//! Analysis: what the Sample stream means, without I/O. The recorder counts; the outage
//! detector, timeline, phases and clock are its parts; the judged views feed the gates and the
//! snapshots feed the live views.

pub mod clock;
pub mod histogram;
pub mod judged;
pub mod outage;
pub mod phase;
pub mod recorder;
pub mod snapshot;
pub mod timeline;
pub mod tracking;
pub mod unobserved;
pub mod wire;
