//! Integration tests: the real blip binary against loopback test servers with injected faults.

mod support;

mod brownout;
mod ci_examples;
mod core;
mod dashboard;
mod deploy;
mod gates;
mod habits;
mod metrics;
mod offline;
mod resend;
mod secrets;
mod shell;
mod stuck;
mod tls;
mod truth;
