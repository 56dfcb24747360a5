//! Exit codes. Each means one thing; the README's table lists them.

/// The run finished and every gate passed.
pub const OK: u8 = 0;
/// The run finished and a gate failed.
pub const GATE_FAILED: u8 = 1;
/// Bad usage or configuration (nothing was probed), or blip itself failed (e.g. cannot write
/// `--json`).
pub const USAGE_OR_FAILURE: u8 = 2;
/// The wrapped COMMAND failed (non-zero exit, killed by a signal) or could not be started.
pub const COMMAND_FAILED: u8 = 3;
