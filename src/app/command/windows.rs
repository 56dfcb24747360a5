//! The command's supervision on Windows: a Job Object that ends the command and everything it
//! starts when blip's handle to it closes (kill on close: even when blip is killed outright) or
//! when blip ends the job, and a process group of its own, which blip's stop requests reach as
//! a Ctrl-Break.
//!
//! The command is put in the job just after it starts, so a process it starts in its very first
//! moments may escape the job; the Ctrl-Break still reaches it through the group.

use std::fs::Metadata;
use std::os::windows::io::AsRawHandle as _;
use std::os::windows::process::CommandExt as _;
use std::process::{Child, Command, ExitStatus};
use std::sync::{Arc, Mutex};

use win32job::{ExtendedLimitInfo, Job};
use windows_sys::Win32::Foundation::HANDLE;
use windows_sys::Win32::System::Console::{CTRL_BREAK_EVENT, GenerateConsoleCtrlEvent};
use windows_sys::Win32::System::JobObjects::TerminateJobObject;
use windows_sys::Win32::System::Threading::CREATE_NEW_PROCESS_GROUP;

use crate::app::signals::Signal;

/// Whether a file may be run: Windows runs any file the caller may read.
pub fn is_executable(meta: &Metadata) -> bool {
    meta.is_file()
}

/// Sets up `command` before it starts: a process group of its own, so the console's Ctrl-C
/// reaches blip alone and blip passes it on.
pub fn prepare(command: &mut Command) {
    command.creation_flags(CREATE_NEW_PROCESS_GROUP);
}

/// The job, shared by the [`Group`] (which ends it on a kill) and the [`Keeper`] (which lets it
/// go when the command exits on its own). `None` once either has.
type SharedJob = Arc<Mutex<Option<Job>>>;

/// The started command, for stop requests.
pub struct Group {
    pid: u32,
    job: SharedJob,
    /// Whether the job could be made.
    in_job: bool,
}

impl Group {
    /// A Ctrl-Break to the command's process group, or for [`Signal::Kill`] the end of its job.
    pub fn signal(&self, signal: Signal) {
        if signal != Signal::Kill {
            ctrl_break(self.pid);
            return;
        }
        if let Some(job) = self.job.lock().ok().and_then(|mut job| job.take()) {
            terminate(&job);
        } else if !self.in_job {
            // No job could be made: the command's own tree, by the system's tool.
            let _ = Command::new("taskkill").args(["/F", "/T", "/PID", &self.pid.to_string()]).output();
        }
    }
}

/// What keeps the command from outliving blip, held by the thread that waits for it.
pub struct Keeper {
    job: SharedJob,
}

impl Keeper {
    /// The command exited on its own: what it left behind may go on, as on Unix, so the job
    /// loses its kill on close before its handle closes.
    pub fn release(self) {
        let job = self.job.lock().ok().and_then(|mut job| job.take());
        if let Some(job) = job {
            let _ = job.set_extended_limit_info(&ExtendedLimitInfo::new());
        }
    }
}

/// The command just started, put in a job that ends with blip.
pub fn keep(child: &Child) -> (Group, Keeper) {
    let mut limits = ExtendedLimitInfo::new();
    limits.limit_kill_on_job_close();
    let job = Job::create_with_limit_info(&limits)
        .ok()
        .filter(|job| job.assign_process(child.as_raw_handle() as isize).is_ok());
    let in_job = job.is_some();
    let job = Arc::new(Mutex::new(job));
    (Group { pid: child.id(), job: job.clone(), in_job }, Keeper { job })
}

/// Windows ends a process with an exit code, never a signal.
pub fn signal_name(_: ExitStatus) -> Option<String> {
    None
}

/// The exit code of a command blip killed: not 0, which closing a kill-on-close job leaves, so
/// a killed deploy never reads as one that succeeded.
const KILLED: u32 = 1;

/// Ends every process in `job` with [`KILLED`].
#[allow(unsafe_code)]
fn terminate(job: &Job) {
    // SAFETY: the handle is the job's own, open for as long as `job` is borrowed here.
    unsafe {
        TerminateJobObject(job.handle() as HANDLE, KILLED);
    }
}

/// Sends a Ctrl-Break to the process group `group`.
#[allow(unsafe_code)]
fn ctrl_break(group: u32) {
    // SAFETY: the call takes two integers and no pointer; a group that is gone makes it fail,
    // which is fine (nothing is left to stop).
    unsafe {
        GenerateConsoleCtrlEvent(CTRL_BREAK_EVENT, group);
    }
}
