//! Report files written whole or not at all, for `--json`, `--junit` and `--markdown`: the
//! report goes to a temporary file beside the target, which is then renamed over it, so a reader
//! never sees half a report and a failed write leaves the earlier one. A path that is not a
//! regular file (`/dev/null`, a named pipe, a symbolic link) is written in place instead, so it
//! stays what it is.

use std::path::Path;

/// Writes `bytes` to `path`. A regular file, or a new one, is written through a temporary
/// sibling and a rename, so readers never see half a file and a failed write leaves any earlier
/// file in place. Anything else at `path` is written in place: a rename would replace
/// `/dev/null`, a named pipe or a symbolic link with a regular file.
pub fn write_whole(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    if !replaceable(path)? {
        return std::fs::write(path, bytes);
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
        // Opening a named pipe to try would wait for its reader; asking costs nothing.
        return nix::unistd::access(path, nix::unistd::AccessFlags::W_OK).map_err(std::io::Error::from);
    }
    let temp = temp_path(path)?;
    std::fs::write(&temp, b"")?;
    std::fs::remove_file(&temp)
}

/// Whether `path` is a regular file or nothing yet, that is, whether a rename may replace it.
fn replaceable(path: &Path) -> std::io::Result<bool> {
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

#[cfg(test)]
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
        check_writable(&fifo).unwrap();
        let reader = std::thread::spawn({
            let fifo = fifo.clone();
            move || std::fs::read_to_string(fifo).unwrap()
        });
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
