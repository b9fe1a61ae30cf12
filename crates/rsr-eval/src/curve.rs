//! Learning curves: the SafetyWorld suite over every checkpoint of a run,
//! with the tokens each checkpoint had seen — how safety is learned, not only
//! whether it was.

use crate::gym::{gym, gym_with, GymResult};
use rsr_core::{Error, Result};
use rsr_decode::generate::GenConfig;
use rsr_decode::memo::Generations;
use rsr_decode::Loaded;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CurvePoint {
    pub step: u64,
    pub tokens: u64,
    pub checkpoint: PathBuf,
    pub results: GymResult,
}

/// The complete checkpoints of a run (`RUN/checkpoints/step-*`, sealed), as (step, tokens seen,
/// directory), oldest first.
pub fn checkpoints(run: &Path) -> Result<Vec<(u64, u64, PathBuf)>> {
    let dir = run.join("checkpoints");
    let entries = std::fs::read_dir(&dir).map_err(|e| Error::io(&dir, e))?;
    let mut out = Vec::new();
    for e in entries.flatten() {
        if !rsr_model::checkpoint::is_complete(&e.path()) {
            continue;
        }
        let state = e.path().join("state.json");
        let raw = std::fs::read(&state).map_err(|err| Error::io(&state, err))?;
        #[derive(serde::Deserialize)]
        struct At {
            step: u64,
            tokens: u64,
        }
        let at: At = serde_json::from_slice(&raw)
            .map_err(|err| Error::input(&state, err.to_string(), "the checkpoint's state.json is damaged"))?;
        out.push((at.step, at.tokens, e.path()));
    }
    if out.is_empty() {
        return Err(Error::input(
            &dir,
            "no complete checkpoint",
            "train with `rsr train --checkpoint-every N` to get a curve, or pass one checkpoint directory",
        ));
    }
    out.sort();
    Ok(out)
}

/// Is `dir` a run (with checkpoints) rather than one checkpoint?
pub fn is_run(dir: &Path) -> bool {
    dir.join("checkpoints").is_dir() && !dir.join("model.safetensors").is_file()
}

/// The suite at every checkpoint of `run`.
pub fn curve(
    run: &Path,
    suite: &crate::gym::WorldSuite,
    cfg: &GenConfig,
    per_set: usize,
    progress: &mut dyn FnMut(&str, usize, usize),
) -> Result<Vec<CurvePoint>> {
    curve_after(run, suite, cfg, per_set, None, progress)
}

/// A checkpoint the caller has already loaded and evaluated under the same decoding: the
/// curve takes its kept generations and its held-out measurements instead of loading and
/// decoding it again (the experiment's final checkpoint, after its full suite).
pub struct Evaluated<'a, 'm> {
    pub checkpoint: &'a Path,
    pub model: &'a Generations<'m>,
    pub results: &'a GymResult,
}

/// [`curve`], with `known` taken as it stands where its checkpoint comes (the same numbers:
/// decoding is deterministic, so only the work differs).
pub fn curve_after(
    run: &Path,
    suite: &crate::gym::WorldSuite,
    cfg: &GenConfig,
    per_set: usize,
    known: Option<Evaluated>,
    progress: &mut dyn FnMut(&str, usize, usize),
) -> Result<Vec<CurvePoint>> {
    let mut out = Vec::new();
    for (step, tokens, checkpoint) in checkpoints(run)? {
        let label = format!("step {step}");
        let mut tick = |set: &str, i, n| progress(&format!("{label} {set}"), i, n);
        let results = match &known {
            Some(k) if same_dir(k.checkpoint, &checkpoint) => {
                gym_with(k.model, suite, cfg, per_set, k.results.heldout.as_ref(), &mut tick)?
            }
            _ => gym(&Loaded::from_dir(&checkpoint)?, suite, cfg, per_set, &mut tick)?,
        };
        out.push(CurvePoint { step, tokens, checkpoint, results });
    }
    Ok(out)
}

fn same_dir(a: &Path, b: &Path) -> bool {
    a == b || matches!((a.canonicalize(), b.canonicalize()), (Ok(a), Ok(b)) if a == b)
}
