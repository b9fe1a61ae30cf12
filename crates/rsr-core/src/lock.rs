//! One writer per output directory. A long job (`rsr demo`, `rsr study`) resumes from what an
//! earlier run left in its directory; two processes on one directory would train the same run
//! at once and overwrite each other's checkpoints. [`DirLock`] holds an exclusive advisory lock
//! (`flock` on Unix, `LockFileEx` on Windows, through `std::fs::File::try_lock`) on `DIR/.lock`
//! for as long as it lives. The operating system drops the lock when the process ends, killed
//! or not, so a crashed run never leaves a stale lock behind; the file itself stays and names
//! the last holder's pid.

use crate::{Error, Result};
use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// The lock file's name inside the directory it guards.
pub const LOCK_FILE: &str = ".lock";

/// An exclusive lock on a directory, held until dropped.
#[derive(Debug)]
pub struct DirLock {
    file: File,
    path: PathBuf,
}

impl DirLock {
    /// Create `dir` if needed and take its lock, or fail at once (never wait) naming the
    /// directory and the pid that holds it. `what` names the job in the message ("rsr study").
    pub fn acquire(dir: &Path, what: &str) -> Result<Self> {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        let path = dir.join(LOCK_FILE);
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| Error::io(&path, e))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                let mut holder = String::new();
                let _ = file.read_to_string(&mut holder);
                let holder = holder.trim();
                let who = if holder.is_empty() { "another process".to_string() } else { format!("process {holder}") };
                return Err(Error::input(
                    &path,
                    format!("{who} is already writing {} ({what} takes one writer per directory)", dir.display()),
                    "wait for it to finish, stop it (a stopped run resumes from what it kept), or pass another --out",
                ));
            }
            Err(TryLockError::Error(e)) => return Err(Error::io(&path, e)),
        }
        // Name the holder for whoever is refused next; the lock, not this text, is what counts.
        let pid = std::process::id().to_string();
        file.set_len(0)
            .and_then(|()| file.seek(SeekFrom::Start(0)))
            .and_then(|_| file.write_all(pid.as_bytes()))
            .map_err(|e| Error::io(&path, e))?;
        Ok(DirLock { file, path })
    }

    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for DirLock {
    fn drop(&mut self) {
        let _ = self.file.unlock();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_writer_is_refused_until_the_first_lets_go() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("study");
        let first = DirLock::acquire(&out, "rsr study").unwrap();
        assert!(out.join(LOCK_FILE).is_file());
        // flock conflicts between open files even within one process, so this is the case of
        // a second `rsr study` on the same --out.
        let err = DirLock::acquire(&out, "rsr study").unwrap_err().to_string();
        assert!(err.contains(".lock") && err.contains(&std::process::id().to_string()), "{err}");
        assert!(err.contains("another --out"), "{err}");
        // Another directory is free.
        DirLock::acquire(&dir.path().join("other"), "rsr study").unwrap();
        drop(first);
        let again = DirLock::acquire(&out, "rsr study").unwrap();
        assert_eq!(again.path(), out.join(LOCK_FILE));
    }
}
