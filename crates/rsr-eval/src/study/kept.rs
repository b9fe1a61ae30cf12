//! A study's kept files: what a finished study is made of, apart from what rebuilds byte for
//! byte from its seeds (worlds, corpora, packs) or is only needed while training (checkpoints).
//!
//! `study.json`, each run's `summary.json` (every replicate's) and each negative control's
//! `result.json`: copied into an empty directory, the same `rsr study` command with that
//! directory as `--out` trains nothing and writes the same `results.json` (docs/study.md,
//! item 12).

use rsr_core::{Error, Result};
use std::path::{Path, PathBuf};

/// Every kept file of the study in `out`, relative to it, in a stable order.
pub fn kept_files(out: &Path) -> Result<Vec<PathBuf>> {
    let mut files = vec![PathBuf::from("study.json")];
    if !out.join("study.json").is_file() {
        return Err(Error::input(
            out.join("study.json"),
            "not found: this is not a study directory",
            "pass the --out of an `rsr study` run",
        ));
    }
    for seed in sorted_dirs(out, |n| n.starts_with("seed-"))? {
        let control = seed.join("control").join("result.json");
        if out.join(&control).is_file() {
            files.push(control);
        }
        let mut roots = vec![seed.clone()];
        roots.extend(sorted_dirs(&out.join(&seed), |n| n.starts_with("replicate-"))?.into_iter().map(|r| seed.join(r)));
        for root in roots {
            let runs = root.join("runs");
            if !out.join(&runs).is_dir() {
                continue;
            }
            for run in sorted_dirs(&out.join(&runs), |_| true)? {
                let summary = runs.join(run).join("summary.json");
                if out.join(&summary).is_file() {
                    files.push(summary);
                }
            }
        }
    }
    Ok(files)
}

/// Copy the kept files of the study in `out` into `to` (created; it must not hold a study
/// already), each written under a temporary name and renamed. Returns the files copied.
pub fn export(out: &Path, to: &Path) -> Result<Vec<PathBuf>> {
    let files = kept_files(out)?;
    if to.join("study.json").exists() {
        return Err(Error::input(
            to.join("study.json"),
            "the target already holds a study",
            "export into a new or empty directory",
        ));
    }
    for f in &files {
        let bytes = std::fs::read(out.join(f)).map_err(|e| Error::io(out.join(f), e))?;
        rsr_core::atomic::write_all(to.join(f), &bytes)?;
    }
    Ok(files)
}

/// The names of the directories in `dir` that `keep` accepts, sorted.
fn sorted_dirs(dir: &Path, keep: impl Fn(&str) -> bool) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))? {
        let entry = entry.map_err(|e| Error::io(dir, e))?;
        let name = entry.file_name();
        if entry.path().is_dir() && name.to_str().is_some_and(&keep) {
            out.push(PathBuf::from(name));
        }
    }
    out.sort();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_study_exports_its_settings_summaries_and_controls_and_nothing_else() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("study");
        let touch = |p: &str| {
            let p = out.join(p);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(&p, p.to_string_lossy().as_bytes()).unwrap();
        };
        assert!(kept_files(&out).is_err(), "no study.json: not a study");
        for f in [
            "study.json",
            "seed-0/runs/raw/summary.json",
            "seed-0/runs/raw/checkpoints/step-1/model.safetensors",
            "seed-0/runs/rsr/run.json",
            "seed-0/control/result.json",
            "seed-0/world/documents.jsonl",
            "seed-0/replicate-1/runs/raw/summary.json",
            "seed-1/runs/filter/summary.json",
        ] {
            touch(f);
        }
        let to = dir.path().join("kept");
        let copied: Vec<String> = export(&out, &to).unwrap().iter().map(|p| p.display().to_string()).collect();
        assert_eq!(
            copied,
            [
                "study.json",
                "seed-0/control/result.json",
                "seed-0/runs/raw/summary.json",
                "seed-0/replicate-1/runs/raw/summary.json",
                "seed-1/runs/filter/summary.json"
            ]
        );
        for f in &copied {
            assert_eq!(std::fs::read(to.join(f)).unwrap(), std::fs::read(out.join(f)).unwrap());
        }
        assert!(!to.join("seed-0/world").exists() && !to.join("seed-0/runs/rsr").exists());
        // Never over another study.
        assert!(export(&out, &to).unwrap_err().to_string().contains("already holds a study"));
    }
}
