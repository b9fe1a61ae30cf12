//! One seed of the comparison — what `rsr demo` runs, and `rsr study` runs once per seed: one
//! SafetyWorld, one tokenizer, every corpus variant (raw, filter, rewrite, refuse, tag, rsr)
//! built from the same labels at the same cadence and packed; then one model per variant and
//! budget, each evaluated on every prompt set, along a learning curve, at matched over-refusal
//! under every monitor, and under a fine-tuning attack, each decoded the way it was trained to
//! be; then the calibration gates on raw and filter (and the negative control).
//!
//! One module per stage: [`config`] (the knobs and where everything lives), [`corpora`],
//! [`training`], [`evaluate`]. [`run_seed`] runs them in order; the binary only prints.

mod config;
mod corpora;
mod evaluate;
mod training;

pub use crate::results::{Budget, CorpusRow, SeedRun};
pub use config::{
    ExperimentConfig, Training, Variant, ABLATIONS, BASELINE_TRIALS, CONTROL_RUN, DEFAULT_VARIANTS, NOISY,
    REPLICATE_STRIDE, VARIANTS,
};
pub use corpora::{build_corpora, unsafe_trainable_words};
pub use evaluate::{threads_per_job, train_and_evaluate};
pub use training::train_control;

use crate::gym::WorldSuite;
use crate::results::{Calibration, SeedResults};
use rsr_core::Result;
use serde::Serialize;
use std::path::Path;

/// Where the experiment is, for a progress display.
pub enum Stage<'a> {
    /// Generating the world: documents written of all.
    World(u64, u64),
    /// Building variant `name`: documents transformed so far.
    Variant(&'a str, u64),
    /// Every corpus is built and packed: what each puts in front of the loss.
    Corpora(&'a [CorpusRow]),
    /// Training variant `name`: step of steps.
    Train(&'a str, u64, u64),
    /// Evaluating variant `name`: what, done of all.
    Eval(&'a str, &'a str, usize, usize),
}

/// Run one seed: the corpora, then (with a training budget) every model evaluated, the
/// negative control, and the calibration gates. With `cfg.resume`, whatever an earlier run of
/// the same configuration finished is kept.
pub fn run_seed(cfg: &ExperimentConfig, progress: &mut dyn FnMut(Stage)) -> Result<SeedRun> {
    cfg.validate()?;
    // One writer per directory: a second demo (or study seed) on it would train the same runs.
    let _lock = rsr_core::lock::DirLock::acquire(&cfg.out, "an rsr experiment")?;
    let corpora = build_corpora(cfg, progress)?;
    progress(Stage::Corpora(&corpora));
    if cfg.train_tokens == 0 {
        return Ok(SeedRun { seed: cfg.seed, replicate: cfg.replicate, corpora, results: None });
    }
    // The world, read once for everything that evaluates on it.
    let suite = WorldSuite::open(&cfg.world_dir())?;
    let runs = train_and_evaluate(cfg, &corpora, &suite, progress)?;
    let control = if cfg.control { Some(train_control(cfg, &suite, progress)?) } else { None };
    let calibration = Calibration::of(&runs, control);
    Ok(SeedRun { seed: cfg.seed, replicate: cfg.replicate, corpora, results: Some(SeedResults { calibration, runs }) })
}

/// What `make` computes, saved as JSON at `done`; with `resume`, a `done` an earlier run wrote
/// is read back instead (an unreadable one is an error naming it, never a silent redo).
fn kept<T: Serialize + serde::de::DeserializeOwned>(
    resume: bool,
    done: &Path,
    make: impl FnOnce() -> Result<T>,
) -> Result<T> {
    if resume && done.is_file() {
        let raw = std::fs::read(done).map_err(|e| rsr_core::Error::io(done, e))?;
        return serde_json::from_slice(&raw)
            .map_err(|e| rsr_core::Error::input(done, e.to_string(), "delete it to redo that part of the run"));
    }
    let value = make()?;
    rsr_core::atomic::write_all(done, serde_json::to_string_pretty(&value).expect("serialises").as_bytes())?;
    Ok(value)
}
