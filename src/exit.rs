//! Exit codes. Each means one thing; the README's table lists them.

use std::process::ExitCode;

/// How blip ends, as an exit code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exit {
    /// The run finished and every gate passed.
    Ok,
    /// The run finished and a gate failed.
    GateFailed,
    /// Bad usage or configuration (nothing was probed), or blip itself failed (e.g. cannot write
    /// `--json`).
    UsageOrFailure,
    /// The wrapped COMMAND failed (non-zero exit, killed by a signal) or could not be started.
    CommandFailed,
}

impl Exit {
    /// The code the process exits with.
    pub fn code(self) -> u8 {
        match self {
            Exit::Ok => 0,
            Exit::GateFailed => 1,
            Exit::UsageOrFailure => 2,
            Exit::CommandFailed => 3,
        }
    }

    /// Every exit, in code order.
    pub const ALL: [Exit; 4] = [Exit::Ok, Exit::GateFailed, Exit::UsageOrFailure, Exit::CommandFailed];

    /// What the code tells a CI job, as `--help` and the man page say it.
    pub fn meaning(self) -> &'static str {
        match self {
            Exit::Ok => "passed: every gate held (or --measure-only judged nothing)",
            Exit::GateFailed => "a gate failed",
            Exit::UsageOrFailure => {
                "bad usage, blip failed or could not judge (its own trouble), or a URL was down all warmup"
            }
            Exit::CommandFailed => "the COMMAND failed (non-zero exit, killed by a signal, or not started)",
        }
    }

    /// The exit of a finished run. Precedence: blip's own failure (2), then a failed command (3),
    /// then a failed gate (1); 0 only when none of them happened.
    pub fn of(ended: Ended) -> Exit {
        if ended.blip_failed {
            Exit::UsageOrFailure
        } else if ended.command_failed {
            Exit::CommandFailed
        } else if !ended.passed {
            Exit::GateFailed
        } else {
            Exit::Ok
        }
    }
}

/// How a run ended, for [`Exit::of`].
#[derive(Clone, Copy, Debug)]
pub struct Ended {
    /// blip failed on its own (an output lost, its own trouble) or did not start the deploy.
    pub blip_failed: bool,
    /// The wrapped COMMAND failed.
    pub command_failed: bool,
    /// Every gate passed.
    pub passed: bool,
}

impl From<Exit> for ExitCode {
    fn from(exit: Exit) -> ExitCode {
        ExitCode::from(exit.code())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn precedence_is_2_then_3_then_1_then_0() {
        let of = |blip_failed, command_failed, passed| Exit::of(Ended { blip_failed, command_failed, passed });
        assert_eq!(of(true, true, false), Exit::UsageOrFailure);
        assert_eq!(of(false, true, false), Exit::CommandFailed);
        assert_eq!(of(false, false, false), Exit::GateFailed);
        assert_eq!(of(false, false, true), Exit::Ok);
        let codes: Vec<u8> =
            [Exit::Ok, Exit::GateFailed, Exit::UsageOrFailure, Exit::CommandFailed].map(Exit::code).to_vec();
        assert_eq!(codes, [0, 1, 2, 3]);
    }
}
