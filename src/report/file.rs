//! Report files written whole or not at all, for `--json`, `--junit`, `--markdown` and `--html`: the
//! report goes to a temporary file beside the target, which is then renamed over it, so a reader
//! never sees half a report and a failed write leaves the earlier one. A path that is not a
//! regular file (`/dev/null`, a named pipe, a symbolic link) is written in place instead, so it
//! stays what it is.
//!
//! Nothing here waits for a reader: opening a named pipe for writing blocks until a process
//! opens it for reading, which would hang blip before probing (`--events`) or after the run, deaf
//! to signals, with the report lost (`--json`). Such paths are opened without blocking when
//! blip starts, so a pipe nobody reads is an error before anything is probed, and the handle is
//! held until the report is written: closing it would end the reader's input early.

use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// Paths written in place, opened by [`check_writable`] and held until [`write_whole`].
static HELD: Mutex<Vec<(PathBuf, File)>> = Mutex::new(Vec::new());

/// Writes `bytes` to `path`. A regular file, or a new one, is written through a temporary
/// sibling and a rename, so readers never see half a file and a failed write leaves any earlier
/// file in place. Anything else at `path` is written in place: a rename would replace
/// `/dev/null`, a named pipe or a symbolic link with a regular file.
pub fn write_whole(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    if !replaceable(path)? {
        use std::io::Write as _;
        let held = HELD.lock().ok().and_then(|mut held| {
            let at = held.iter().position(|(p, _)| p == path)?;
            Some(held.swap_remove(at).1)
        });
        let mut file = match held {
            Some(file) => file,
            None => open_in_place(path)?,
        };
        return file.write_all(bytes);
    }
    let temp = temp_path(path)?;
    let result = std::fs::write(&temp, bytes).and_then(|()| std::fs::rename(&temp, path));
    if result.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    result
}

/// Fails now, before anything is probed, if [`write_whole`] could not write `path` at the end:
/// it writes and removes the very temporary file that `write_whole` will use.
pub fn check_writable(path: &Path) -> std::io::Result<()> {
    if path.is_dir() {
        return Err(std::io::Error::other("it is a directory"));
    }
    if !replaceable(path)? {
        let file = open_in_place(path)?;
        if let Ok(mut held) = HELD.lock() {
            held.push((path.to_path_buf(), file));
        }
        return Ok(());
    }
    let temp = temp_path(path)?;
    std::fs::write(&temp, b"")?;
    std::fs::remove_file(&temp)
}

/// Opens an existing path that is not a regular file (a named pipe, a device) for writing in
/// place, without waiting for a reader: a named pipe nobody reads is an error. The handle then
/// blocks as usual, so a slow reader gets everything.
pub fn open_in_place(path: &Path) -> std::io::Result<File> {
    open_without_waiting(OpenOptions::new().write(true), path)
}

/// Opens `path` to append to (GitHub's job summary, which other steps write to as well), created
/// if missing, without waiting for a reader; the handle is held for [`append`]. A directory, or a
/// named pipe nobody reads, is an error now rather than a hang after the run.
pub fn check_appendable(path: &Path) -> std::io::Result<()> {
    if path.is_dir() {
        return Err(std::io::Error::other("it is a directory"));
    }
    let file = open_without_waiting(OpenOptions::new().append(true).create(true), path)?;
    if let Ok(mut held) = HELD.lock() {
        held.push((path.to_path_buf(), file));
    }
    Ok(())
}

/// Appends `bytes` to `path`, through the handle [`check_appendable`] opened when there is one.
pub fn append(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write as _;
    let held = HELD.lock().ok().and_then(|mut held| {
        let at = held.iter().position(|(p, _)| p == path)?;
        Some(held.swap_remove(at).1)
    });
    let mut file = match held {
        Some(file) => file,
        None => std::fs::OpenOptions::new().append(true).create(true).open(path)?,
    };
    file.write_all(bytes)
}

/// Opens `path` with `options` without waiting for a reader, should it be a named pipe; the
/// handle then blocks as usual (in append mode if `options` asked for it).
#[cfg(unix)]
fn open_without_waiting(options: &mut OpenOptions, path: &Path) -> std::io::Result<File> {
    use nix::fcntl::{FcntlArg, OFlag, fcntl};
    use std::os::unix::fs::OpenOptionsExt as _;
    let file = options.custom_flags(OFlag::O_NONBLOCK.bits()).open(path).map_err(|e| match e.raw_os_error() {
        Some(code) if code == nix::errno::Errno::ENXIO as i32 => {
            std::io::Error::other("it is a named pipe that no process reads (start its reader first)")
        }
        _ => e,
    })?;
    let blocking = fcntl(&file, FcntlArg::F_GETFL).map(OFlag::from_bits_truncate)? - OFlag::O_NONBLOCK;
    fcntl(&file, FcntlArg::F_SETFL(blocking))?;
    Ok(file)
}

/// Windows' named pipes are not paths a report is given: an open never waits.
#[cfg(windows)]
fn open_without_waiting(options: &mut OpenOptions, path: &Path) -> std::io::Result<File> {
    options.open(path)
}

/// Whether `path` is a named pipe.
#[cfg(unix)]
pub fn is_fifo(path: &Path) -> bool {
    use std::os::unix::fs::FileTypeExt as _;
    std::fs::metadata(path).is_ok_and(|m| m.file_type().is_fifo())
}

/// Whether `path` is a named pipe: never a path on Windows.
#[cfg(windows)]
pub fn is_fifo(_: &Path) -> bool {
    false
}

/// Whether `path` is a regular file or nothing yet, that is, whether a rename may replace it.
pub fn replaceable(path: &Path) -> std::io::Result<bool> {
    match std::fs::symlink_metadata(path) {
        Ok(meta) => Ok(meta.file_type().is_file()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(true),
        Err(e) => Err(e),
    }
}

/// `.NAME.PID.tmp` beside `path`: hidden, and never the name of a file of the user's.
fn temp_path(path: &Path) -> std::io::Result<std::path::PathBuf> {
    let name = path.file_name().ok_or_else(|| std::io::Error::other("the path names no file"))?;
    let mut temp_name = std::ffi::OsString::from(".");
    temp_name.push(name);
    temp_name.push(format!(".{}.tmp", std::process::id()));
    Ok(path.with_file_name(temp_name))
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::FileTypeExt as _;

    fn tempdir(name: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("blip-file-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn regular_files_are_replaced_and_links_and_pipes_written_in_place() {
        let dir = tempdir("kinds");
        let file = dir.join("report.json");
        std::fs::write(&file, "old").unwrap();
        check_writable(&file).unwrap();
        write_whole(&file, b"new").unwrap();
        assert_eq!(std::fs::read_to_string(&file).unwrap(), "new");

        let link = dir.join("link.json");
        std::os::unix::fs::symlink(&file, &link).unwrap();
        check_writable(&link).unwrap();
        write_whole(&link, b"through the link").unwrap();
        assert!(std::fs::symlink_metadata(&link).unwrap().file_type().is_symlink());
        assert_eq!(std::fs::read_to_string(&file).unwrap(), "through the link");

        let fifo = dir.join("pipe");
        nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::S_IRWXU).unwrap();
        // Nobody reads it: an error, at once.
        let err = check_writable(&fifo).unwrap_err().to_string();
        assert!(err.contains("no process reads"), "{err}");
        // Its reader opens it first; the handle opened by the check carries the report.
        let reader = std::thread::spawn({
            let fifo = fifo.clone();
            move || std::fs::read_to_string(fifo).unwrap()
        });
        let opened = std::time::Instant::now();
        while check_writable(&fifo).is_err() {
            assert!(opened.elapsed() < std::time::Duration::from_secs(5), "the reader opened the pipe");
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        write_whole(&fifo, b"piped").unwrap();
        assert_eq!(reader.join().unwrap(), "piped");
        assert!(std::fs::metadata(&fifo).unwrap().file_type().is_fifo());
        // Nothing was left beside them.
        let mut names: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name()).collect();
        names.sort();
        assert_eq!(names, ["link.json", "pipe", "report.json"]);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
