//! Integration tests: the real blip binary against loopback test servers with injected faults.

mod support;

mod action;
mod brownout;
mod ci_examples;
mod core;
mod cutover;
mod dashboard;
mod deploy;
mod docs;
mod gates;
mod habits;
mod html;
mod lanes;
mod layering;
mod metrics;
mod offline;
mod own_trouble;
mod phases;
mod pool;
mod release;
mod request_id;
mod resend;
mod router;
mod routes;
mod secrets;
mod shape;
mod shell;
mod stuck;
mod tls;
mod truth;
mod verdict;
