//! Durable, private file writes: temp file + fsync + rename, keys 0600 and dirs 0700 from creation;
//! temp files a killed writer left behind are removed by the next write into their directory.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

/// Mode for private key files and anything else only the owner may read.
pub const PRIVATE_FILE_MODE: u32 = 0o600;
/// Mode for certificates and other public material.
pub const PUBLIC_FILE_MODE: u32 = 0o644;
/// Mode for directories meshctl creates.
pub const PRIVATE_DIR_MODE: u32 = 0o700;

/// Creates `dir` and its missing parents with mode 0700.
pub fn create_private_dir(dir: &Path) -> io::Result<()> {
    fs::DirBuilder::new()
        .recursive(true)
        .mode(PRIVATE_DIR_MODE)
        .create(dir)
}

/// Writes `contents` to `path` atomically: a sibling temp file created with `mode`, fsynced,
/// renamed over `path`, then the directory fsynced. Readers see the old file or the new one,
/// never a partial one, and the file never exists with a wider mode than `mode`.
pub fn write_atomic(path: &Path, contents: &[u8], mode: u32) -> io::Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path.file_name().ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{} is not a file path", path.display()),
        )
    })?;
    remove_stale_temps(dir);
    let tmp = dir.join(format!(
        ".{}{TEMP_MARKER}{}",
        name.to_string_lossy(),
        std::process::id()
    ));
    let result = (|| {
        let mut file = create_temp(&tmp, mode)?;
        file.write_all(contents)?;
        file.sync_all()?;
        fs::rename(&tmp, path)?;
        File::open(dir)?.sync_all()
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// What sits between a temp file's target name and its writer's pid: `.key.pem.tmp.4242`.
const TEMP_MARKER: &str = ".tmp.";

/// Creates the temp file with `mode` in the `open` call itself (never a moment with a wider
/// mode, whatever it will hold) and exactly `mode` before the caller writes a byte.
fn create_temp(tmp: &Path, mode: u32) -> io::Result<File> {
    let file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(tmp)?;
    // The umask may have narrowed `mode`; never widen it, but make it exact.
    file.set_permissions(fs::Permissions::from_mode(mode))?;
    Ok(file)
}

/// Removes `.<name>.tmp.<pid>` files in `dir` whose writer no longer runs (killed between
/// creating and renaming them; some hold private keys). Best effort: a file that cannot be
/// removed stays, and files of live processes (this one included) are never touched.
pub fn remove_stale_temps(dir: &Path) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name.to_str().and_then(temp_writer_pid) else {
            continue;
        };
        if pid != std::process::id() && !process_alive(pid) {
            let _ = fs::remove_file(entry.path());
        }
    }
}

/// The writer's pid of a temp file name this module creates (`.<name>.tmp.<pid>`).
fn temp_writer_pid(file_name: &str) -> Option<u32> {
    if !file_name.starts_with('.') {
        return None;
    }
    let (_, pid) = file_name.rsplit_once(TEMP_MARKER)?;
    pid.parse().ok().filter(|p| *p > 0)
}

/// Whether a process with `pid` exists (signal 0; "not permitted" means it does).
fn process_alive(pid: u32) -> bool {
    let Ok(raw) = i32::try_from(pid) else {
        return false;
    };
    !matches!(
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(raw), None),
        Err(nix::errno::Errno::ESRCH)
    )
}

/// Unix permission bits of `path`.
pub fn mode_of(path: &Path) -> io::Result<u32> {
    Ok(fs::metadata(path)?.permissions().mode() & 0o7777)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_write_sets_mode_and_replaces() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k.key");
        write_atomic(&path, b"one", PRIVATE_FILE_MODE).unwrap();
        assert_eq!(mode_of(&path).unwrap(), 0o600);
        write_atomic(&path, b"two", PRIVATE_FILE_MODE).unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"two");
        let leftovers: Vec<_> = fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(leftovers.len(), 1, "no temp files left behind");
    }

    #[test]
    fn a_key_temp_file_is_0600_before_its_first_byte() {
        let dir = tempfile::tempdir().unwrap();
        let tmp = dir.path().join(".k.key.tmp.1");
        let file = create_temp(&tmp, PRIVATE_FILE_MODE).unwrap();
        assert_eq!(file.metadata().unwrap().len(), 0, "nothing written yet");
        assert_eq!(mode_of(&tmp).unwrap(), 0o600);
        // An existing temp file is never reused (it could have a wider mode).
        assert!(create_temp(&tmp, PRIVATE_FILE_MODE).is_err());
    }

    #[test]
    fn temp_files_of_dead_writers_are_removed_by_the_next_write() {
        let dir = tempfile::tempdir().unwrap();
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let dead = child.id();
        child.wait().unwrap();
        let stale = dir.path().join(format!(".k.key.tmp.{dead}"));
        let mine = dir
            .path()
            .join(format!(".other.tmp.{}", std::process::id()));
        let unrelated = dir.path().join("notes.tmp.1");
        for p in [&stale, &mine, &unrelated] {
            fs::write(p, b"x").unwrap();
        }
        write_atomic(&dir.path().join("k.key"), b"new", PRIVATE_FILE_MODE).unwrap();
        assert!(!stale.exists(), "a dead writer's temp file is removed");
        assert!(mine.exists(), "a live writer's temp file is kept");
        assert!(
            unrelated.exists(),
            "only meshctl's own temp names are touched"
        );
        assert_eq!(temp_writer_pid(".a.tmp.12"), Some(12));
        assert_eq!(temp_writer_pid(".a.tmp.0"), None);
        assert_eq!(temp_writer_pid(".a.tmp.x"), None);
    }
}
