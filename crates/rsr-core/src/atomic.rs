//! Outputs are never half-written: [`AtomicFile`] writes to a hidden temporary
//! name beside the target and renames it into place on [`AtomicFile::commit`].
//! Dropping it uncommitted (an error, a panic, Ctrl-C unwinding) removes the
//! temporary file, and the previous output, if any, stays intact.

use crate::error::{Error, Result};
use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

pub struct AtomicFile {
    tmp: PathBuf,
    target: PathBuf,
    out: Option<BufWriter<File>>,
}

impl AtomicFile {
    pub fn create(target: impl AsRef<Path>) -> Result<Self> {
        let target = target.as_ref().to_path_buf();
        if let Some(dir) = target.parent().filter(|d| !d.as_os_str().is_empty()) {
            fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        }
        let name = target
            .file_name()
            .ok_or_else(|| Error::Invalid(format!("{}: not a file path", target.display())))?
            .to_string_lossy();
        remove_stale_siblings(&target);
        let tmp = target.with_file_name(format!(".{name}.tmp-{}", std::process::id()));
        let file = File::create(&tmp).map_err(|e| Error::io(&tmp, e))?;
        Ok(Self { tmp, target, out: Some(BufWriter::with_capacity(1 << 20, file)) })
    }

    pub fn path(&self) -> &Path {
        &self.target
    }

    /// Flush, sync and rename into place.
    pub fn commit(mut self) -> Result<()> {
        let out = self.out.take().expect("committed twice");
        let file = out.into_inner().map_err(|e| Error::io(&self.tmp, e.into_error()))?;
        file.sync_all().map_err(|e| Error::io(&self.tmp, e))?;
        drop(file);
        fs::rename(&self.tmp, &self.target).map_err(|e| Error::io(&self.target, e))
    }
}

impl Write for AtomicFile {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.out.as_mut().expect("write after commit").write(buf)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.out.as_mut().expect("flush after commit").flush()
    }
}

impl Drop for AtomicFile {
    fn drop(&mut self) {
        if self.out.take().is_some() {
            let _ = fs::remove_file(&self.tmp);
        }
    }
}

/// Write a whole file atomically.
pub fn write_all(target: impl AsRef<Path>, bytes: &[u8]) -> Result<()> {
    let mut f = AtomicFile::create(target)?;
    f.write_all(bytes).map_err(|e| Error::io(f.path().to_path_buf(), e))?;
    f.commit()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uncommitted_file_leaves_no_trace_and_keeps_old_output() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("out.txt");
        write_all(&p, b"old").unwrap();
        {
            let mut f = AtomicFile::create(&p).unwrap();
            f.write_all(b"half").unwrap();
        }
        assert_eq!(fs::read(&p).unwrap(), b"old");
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
        write_all(&p, b"new").unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"new");
    }
}

/// Remove what runs that died left in `target`'s directory: temporary files (`.NAME.tmp-PID`)
/// and staging or retired directories (`.NAME.rsr-tmp-PID`, `.NAME.rsr-old-PID`) whose process
/// is gone. Where liveness cannot be told (no /proc), nothing is removed.
fn remove_stale_siblings(target: &Path) {
    // Once per directory and process: a stage writing thousands of shards or parts into one
    // directory must not rescan it for every file.
    static SWEPT: std::sync::Mutex<Vec<PathBuf>> = std::sync::Mutex::new(Vec::new());
    let parent = parent_dir(target);
    {
        let mut swept = SWEPT.lock().unwrap_or_else(|e| e.into_inner());
        if swept.contains(&parent) {
            return;
        }
        swept.push(parent.clone());
    }
    let Ok(entries) = fs::read_dir(&parent) else { return };
    let proc_fs = Path::new("/proc/self").exists();
    for e in entries.flatten() {
        let n = e.file_name().to_string_lossy().into_owned();
        // `.NAME.KIND-PID`, for any output NAME in this directory.
        let Some(rest) = n.strip_prefix('.') else { continue };
        let Some((kind, pid)) = rest.rsplit_once('-') else { continue };
        let Some((_, kind)) = kind.rsplit_once('.') else { continue };
        let Ok(pid) = pid.parse::<u32>() else { continue };
        if !["tmp", "rsr-tmp", "rsr-old"].contains(&kind) || pid == std::process::id() {
            continue;
        }
        if proc_fs && !Path::new(&format!("/proc/{pid}")).exists() {
            let p = e.path();
            let _ = if p.is_dir() { fs::remove_dir_all(&p) } else { fs::remove_file(&p) };
        }
    }
}

/// The directory `target` lies in (`.` for a bare name).
fn parent_dir(target: &Path) -> PathBuf {
    match target.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// The name of a staging (`tmp`) or retired (`old`) copy of `target`, owned by process `pid`.
fn sibling(target: &Path, kind: &str, pid: u32) -> PathBuf {
    let name = target.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "out".into());
    target.with_file_name(format!(".{name}.rsr-{kind}-{pid}"))
}

/// A fresh, empty directory beside `target` in which to build a new version of it, so a run
/// killed half-way never leaves new files mixed with old ones. Staging directories of runs
/// that died (their process is gone) are removed first.
pub fn staging_dir(target: &Path) -> Result<PathBuf> {
    let parent = parent_dir(target);
    fs::create_dir_all(&parent).map_err(|e| Error::io(&parent, e))?;
    remove_stale_siblings(target);
    let staged = sibling(target, "tmp", std::process::id());
    let _ = fs::remove_dir_all(&staged);
    fs::create_dir_all(&staged).map_err(|e| Error::io(&staged, e))?;
    Ok(staged)
}

/// Build a new version of the directory `target` with `build` (given an empty staging
/// directory beside it) and put it in place only if `build` succeeds; on failure the staging
/// directory is removed and `target` is as it was.
pub fn build_dir<T>(target: &Path, build: impl FnOnce(&Path) -> Result<T>) -> Result<T> {
    let staged = staging_dir(target)?;
    match build(&staged) {
        Ok(v) => {
            swap_dir(&staged, target)?;
            Ok(v)
        }
        Err(e) => {
            let _ = fs::remove_dir_all(&staged);
            Err(e)
        }
    }
}

/// Put the directory built in `staged` in place of `target` (which may not exist): the old
/// one is renamed aside, the new one renamed in, then the old one removed.
pub fn swap_dir(staged: &Path, target: &Path) -> Result<()> {
    let old = sibling(target, "old", std::process::id());
    let had_old = target.exists();
    if had_old {
        fs::rename(target, &old).map_err(|e| Error::io(target, e))?;
    }
    if let Err(e) = fs::rename(staged, target) {
        if had_old {
            let _ = fs::rename(&old, target);
        }
        return Err(Error::io(target, e));
    }
    if had_old {
        let _ = fs::remove_dir_all(&old);
    }
    Ok(())
}

/// `path` made absolute with symlinks resolved, as far as it exists (an output
/// directory often does not yet).
fn resolved(path: &Path) -> PathBuf {
    let abs = if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::env::current_dir().map(|d| d.join(path)).unwrap_or_else(|_| path.to_path_buf())
    };
    let mut rest = Vec::new();
    let mut cur = abs.as_path();
    loop {
        if let Ok(c) = cur.canonicalize() {
            return rest.iter().rev().fold(c, |acc: PathBuf, part| acc.join(part));
        }
        match (cur.parent(), cur.file_name()) {
            (Some(parent), Some(name)) => {
                rest.push(name.to_os_string());
                cur = parent;
            }
            _ => return abs,
        }
    }
}

/// An error when a stage's output `out` would overwrite or feed back into its
/// `input`: the same path, or one inside the other.
pub fn check_out_apart(input: &Path, out: &Path) -> Result<()> {
    let (i, o) = (resolved(input), resolved(out));
    let how = if i == o {
        "is"
    } else if o.starts_with(&i) {
        "is inside"
    } else if i.starts_with(&o) {
        "contains"
    } else {
        return Ok(());
    };
    Err(Error::input(
        out,
        format!("the output {how} the input {}: writing it would overwrite or re-read the input", input.display()),
        "give --out a directory of its own, outside the input",
    ))
}

#[cfg(test)]
mod apart_tests {
    use super::*;

    #[test]
    fn outputs_apart_from_inputs() {
        let dir = std::env::temp_dir().join(format!("rsr-apart-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("world")).unwrap();
        std::fs::write(dir.join("world/documents.jsonl"), "").unwrap();
        let w = dir.join("world");
        assert!(check_out_apart(&w, &dir.join("world-rsr")).is_ok());
        assert!(check_out_apart(&w, &w).is_err());
        assert!(check_out_apart(&w, &dir.join("world/./")).is_err());
        assert!(check_out_apart(&w, &dir.join("world/rsr/new")).is_err(), "inside");
        assert!(check_out_apart(&w.join("documents.jsonl"), &w).is_err(), "contains");
        assert!(check_out_apart(&dir.join("world/../world"), &w).is_err(), "the same after resolving ..");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn temporary_files_of_dead_runs_are_cleaned_by_the_next_write() {
        let dir = std::env::temp_dir().join(format!("rsr-stale-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let target = dir.join("documents.jsonl");
        // pid 0 is never a user process: a run that died; our own pid: a write in progress.
        let dead = dir.join(".documents.jsonl.tmp-0");
        std::fs::write(&dead, "half").unwrap();
        let mut f = AtomicFile::create(&target).unwrap();
        f.write_all(b"new").unwrap();
        if Path::new("/proc/self").exists() {
            assert!(!dead.exists(), "the dead run's temporary file is removed");
        }
        f.commit().unwrap();
        assert_eq!(std::fs::read(&target).unwrap(), b"new");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn staged_directories_replace_the_old_one_whole() {
        let dir = std::env::temp_dir().join(format!("rsr-swap-{}", std::process::id()));
        let target = dir.join("packed");
        std::fs::create_dir_all(target.join("train")).unwrap();
        std::fs::write(target.join("train/shard_00001.bin"), "old").unwrap();
        // A dead run's staging directory (pid 0 is never a user process) is cleaned up.
        let stale = dir.join(".packed.rsr-tmp-0");
        std::fs::create_dir_all(&stale).unwrap();
        let staged = staging_dir(&target).unwrap();
        assert!(!stale.exists(), "stale staging directory removed");
        std::fs::create_dir_all(staged.join("train")).unwrap();
        std::fs::write(staged.join("train/shard_00000.bin"), "new").unwrap();
        assert!(target.join("train/shard_00001.bin").exists(), "the old output stays until the swap");
        swap_dir(&staged, &target).unwrap();
        assert!(target.join("train/shard_00000.bin").exists());
        assert!(!target.join("train/shard_00001.bin").exists(), "no old shard mixed in");
        let left: Vec<_> = std::fs::read_dir(&dir).unwrap().flatten().map(|e| e.file_name()).collect();
        assert_eq!(left.len(), 1, "{left:?}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
