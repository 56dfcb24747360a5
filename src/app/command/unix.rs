//! The command's supervision on Unix: a process group of its own, signalled as a group, and two
//! ways it dies with blip. On Linux the kernel sends it SIGKILL when the thread that started it
//! ends (`PR_SET_PDEATHSIG`; that thread lives until the command exits). Everywhere, a small
//! guard process (`sh`) kills the command's whole group when blip's end of a pipe closes before
//! blip said that the command exited; on macOS (and on Linux with `BLIP_PORTABLE=1`, see
//! [`crate::platform`]) the guard is the only way.

use std::fs::Metadata;
use std::io::Write as _;
use std::os::unix::fs::PermissionsExt as _;
use std::os::unix::process::{CommandExt as _, ExitStatusExt as _};
use std::process::{Child, Command, ExitStatus, Stdio};

use nix::sys::signal::killpg;
use nix::unistd::Pid;

use crate::app::signals::Signal;

/// Whether a file may be run: a regular file with an execute bit.
pub fn is_executable(meta: &Metadata) -> bool {
    meta.is_file() && meta.permissions().mode() & 0o111 != 0
}

/// Sets up `command` before it starts: a process group of its own, and on Linux the kernel's
/// promise to kill it with blip.
pub fn prepare(command: &mut Command) {
    command.process_group(0);
    #[cfg(target_os = "linux")]
    if !crate::platform::portable() {
        die_with_parent(command);
    }
}

/// The started command's process group, for stop requests.
pub struct Group {
    pgid: Pid,
}

impl Group {
    /// Sends `signal` to the whole group. A group that is already gone is fine.
    pub fn signal(&self, signal: Signal) {
        if self.pgid.as_raw() > 0 {
            let _ = killpg(self.pgid, signal.unix());
        }
    }
}

/// What keeps the command from outliving blip, held by the thread that waits for it.
pub struct Keeper {
    guard: Option<Child>,
}

impl Keeper {
    /// The command exited on its own: the guard may go without killing what it left behind.
    pub fn release(self) {
        if let Some(mut guard) = self.guard {
            if let Some(mut stdin) = guard.stdin.take() {
                let _ = stdin.write_all(b"\n");
            }
            let _ = guard.wait();
        }
    }
}

/// The group of a command just started, and its guard.
pub fn keep(child: &Child) -> (Group, Keeper) {
    let pid = child.id();
    (Group { pgid: Pid::from_raw(i32::try_from(pid).unwrap_or(0)) }, Keeper { guard: guard(pid) })
}

/// The name of the signal that ended the command (`SIGTERM`), if one did.
pub fn signal_name(status: ExitStatus) -> Option<String> {
    status
        .signal()
        .map(|n| nix::sys::signal::Signal::try_from(n).map_or_else(|_| format!("signal {n}"), |s| s.to_string()))
}

/// Asks the kernel to SIGKILL the command when the thread that starts it ends, so the command
/// dies with blip even when blip is killed with SIGKILL.
#[cfg(target_os = "linux")]
#[allow(unsafe_code)]
fn die_with_parent(command: &mut Command) {
    let parent = nix::unistd::getpid();
    // SAFETY: the closure runs between fork and exec and makes two system calls only (prctl and
    // getppid), both async-signal-safe; it allocates nothing and takes no lock.
    unsafe {
        command.pre_exec(move || {
            nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGKILL)?;
            // blip died before the request was in place: the signal will never come.
            if nix::unistd::getppid() != parent {
                return Err(std::io::Error::other("blip exited while starting the command"));
            }
            Ok(())
        });
    }
}

/// Starts the guard of the command's process group: a shell that waits for a line from blip and,
/// should blip's end of the pipe close without one (blip died), kills the whole group. In a group
/// of its own, so the terminal's Ctrl-C does not end it first. `None` if it cannot be started:
/// on Linux the command itself still dies with blip.
fn guard(pgid: u32) -> Option<Child> {
    Command::new("sh")
        .args(["-c", "read -r _ || kill -s KILL -- -\"$0\"", &pgid.to_string()])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .ok()
}
