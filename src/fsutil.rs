//! Files written so that a reader never sees half of one: a uniquely named temporary sibling,
//! synced, renamed over the target, and the folder synced so that the rename survives a crash.

use std::io::Write;
use std::path::Path;

/// Writes `bytes` to `path` atomically (a temporary file in the same folder, then `rename`).
/// Two threads or processes writing the same target never share a temporary file: the last
/// rename wins, and each reader sees one whole version.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = match path.parent().filter(|p| !p.as_os_str().is_empty()) {
        Some(dir) => dir,
        None => Path::new("."),
    };
    std::fs::create_dir_all(dir)?;
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("file");
    let mut tmp = tempfile::Builder::new()
        .prefix(&format!(".{name}."))
        .suffix(".tmp")
        .tempfile_in(dir)?;
    tmp.write_all(bytes)?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    sync_dir(dir)
}

/// Puts the folder `staged` at `target` in one step, replacing what is there: on Linux the two
/// are exchanged atomically (`renameat2(RENAME_EXCHANGE)`), so a reader sees the old folder or
/// the new one, never neither or a mixture; elsewhere (or where the file system cannot exchange)
/// the old one is moved aside first. The old folder is removed afterwards.
pub fn replace_dir(staged: &Path, target: &Path) -> std::io::Result<()> {
    let parent = match target.parent().filter(|p| !p.as_os_str().is_empty()) {
        Some(p) => p.to_path_buf(),
        None => std::path::PathBuf::from("."),
    };
    if !target.exists() {
        std::fs::rename(staged, target)?;
        return sync_dir(&parent);
    }
    if exchange(staged, target).is_err() {
        // Two renames: the old folder aside (under a unique name), the new one in.
        let aside = tempfile::Builder::new()
            .prefix(".replaced-")
            .tempdir_in(&parent)?;
        let old = aside.path().join("old");
        std::fs::rename(target, &old)?;
        if let Err(e) = std::fs::rename(staged, target) {
            let _ = std::fs::rename(&old, target);
            return Err(e);
        }
        sync_dir(&parent)?;
        return Ok(()); // `aside` (with the old folder) is removed when dropped
    }
    sync_dir(&parent)?;
    // `staged` now holds the old folder.
    std::fs::remove_dir_all(staged)
}

#[cfg(target_os = "linux")]
fn exchange(a: &Path, b: &Path) -> std::io::Result<()> {
    use std::ffi::CString;
    use std::os::unix::ffi::OsStrExt;
    let c = |p: &Path| {
        CString::new(p.as_os_str().as_bytes())
            .map_err(|_| std::io::Error::from(std::io::ErrorKind::InvalidInput))
    };
    let (a, b) = (c(a)?, c(b)?);
    // SAFETY: two valid NUL-terminated paths; renameat2 only reads them.
    let status = unsafe {
        libc::renameat2(
            libc::AT_FDCWD,
            a.as_ptr(),
            libc::AT_FDCWD,
            b.as_ptr(),
            libc::RENAME_EXCHANGE,
        )
    };
    if status == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

#[cfg(not(target_os = "linux"))]
fn exchange(_a: &Path, _b: &Path) -> std::io::Result<()> {
    Err(std::io::Error::from(std::io::ErrorKind::Unsupported))
}

/// Syncs a folder's entries (a rename into it) to disk; a no-op where folders cannot be opened.
pub fn sync_dir(dir: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    std::fs::File::open(dir)?.sync_all()?;
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::{replace_dir, write_atomic};

    #[test]
    fn a_folder_is_replaced_as_a_whole() {
        let dir = tempfile::tempdir().unwrap();
        let (target, staged) = (dir.path().join("run"), dir.path().join(".staged"));
        std::fs::create_dir_all(target.join("samples")).unwrap();
        std::fs::write(target.join("samples/old.png"), b"old").unwrap();
        std::fs::write(target.join("results.csv"), b"old").unwrap();
        std::fs::create_dir_all(&staged).unwrap();
        std::fs::write(staged.join("results.csv"), b"new").unwrap();
        replace_dir(&staged, &target).unwrap();
        assert_eq!(std::fs::read(target.join("results.csv")).unwrap(), b"new");
        assert!(
            !target.join("samples").exists(),
            "nothing of the old folder is mixed in"
        );
        let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(left.len(), 1, "the old folder is gone");
        // Into a place where nothing is yet.
        std::fs::create_dir_all(&staged).unwrap();
        replace_dir(&staged, &dir.path().join("fresh")).unwrap();
        assert!(dir.path().join("fresh").is_dir());
    }

    #[test]
    fn threads_writing_one_file_leave_one_whole_version_and_no_temporaries() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("results.csv");
        std::thread::scope(|s| {
            for t in 0..8u8 {
                let target = &target;
                s.spawn(move || {
                    for _ in 0..20 {
                        write_atomic(target, &vec![b'a' + t; 4096]).unwrap();
                    }
                });
            }
        });
        let bytes = std::fs::read(&target).unwrap();
        assert_eq!(bytes.len(), 4096);
        assert!(bytes.iter().all(|&b| b == bytes[0]), "one writer's bytes");
        let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(names.len(), 1, "no temporary file left");
    }
}
