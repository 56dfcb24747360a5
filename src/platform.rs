//! Which of blip's platform-specific parts run: the scheduler's timer and the wrapped command's
//! supervision.
//!
//! Linux has fast paths of its own (a timerfd, `PR_SET_PDEATHSIG`); macOS and Windows run
//! portable ones. `BLIP_PORTABLE=1` makes Linux run the portable ones too, so that the test
//! suite exercises, on every commit, the code the other platforms run. It is a switch for tests:
//! the Linux paths are the better ones.

use std::sync::OnceLock;

/// The environment variable that selects the portable paths on Linux.
#[cfg_attr(not(target_os = "linux"), allow(dead_code))]
pub const PORTABLE_VAR: &str = "BLIP_PORTABLE";

/// Whether the portable timer and supervisor run: always off Linux, on Linux when
/// `BLIP_PORTABLE=1`. Read once.
#[cfg_attr(not(target_os = "linux"), allow(dead_code))]
pub fn portable() -> bool {
    static PORTABLE: OnceLock<bool> = OnceLock::new();
    !cfg!(target_os = "linux") || *PORTABLE.get_or_init(|| std::env::var_os(PORTABLE_VAR).is_some_and(|v| v == "1"))
}

/// The timer and the supervision this process runs, for `blip --version`.
pub fn describe() -> &'static str {
    if cfg!(windows) {
        "portable timer (a sleeping thread); the command in a Job Object"
    } else if portable() {
        "portable timer (a sleeping thread); the command's group killed with blip by a guard process"
    } else {
        "timerfd; the command's group killed with blip by PR_SET_PDEATHSIG and a guard process"
    }
}
