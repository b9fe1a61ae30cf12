//! One seed of the comparison — what `rsr demo` runs, and `rsr study` runs once per seed: one
//! SafetyWorld, one tokenizer, every corpus variant (raw, filter, rewrite, refuse, tag, rsr)
//! built from the same labels at the same cadence and packed; then one model per variant and
//! budget, each evaluated on every prompt set, along a learning curve, at matched over-refusal
//! under every monitor, and under a fine-tuning attack, each decoded the way it was trained to
//! be; then the calibration gates on raw and filter (and the negative control).
//!
//! One module per stage: [`config`] (the knobs and where everything lives), [`corpora`],
//! [`training`], [`evaluate`]; [`queue`] keeps `--jobs` models in flight. [`run_seed`] runs one
//! world, [`run_seeds`] several (a study) as one queue of models; the binary only prints.
//! [`resume`] guards a demo directory's settings, so `rsr demo --resume` keeps only what a demo
//! of the same settings made.

mod config;
mod corpora;
mod evaluate;
mod queue;
pub mod resume;
mod training;

pub use crate::results::{Budget, CorpusRow, SeedRun};
pub use config::{
    ExperimentConfig, Training, Variant, ABLATIONS, BASELINE_TRIALS, CONTROL_RUN, DEFAULT_VARIANTS, MAX_TOKENS, NOISY,
    REPLICATE_STRIDE, VARIANTS,
};
pub use corpora::{build_corpora, unsafe_trainable_words};
pub use queue::{at_once_count, threads_per_job};
pub use training::train_control;

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

/// Run one seed — what `rsr demo` runs: the corpora, then (with a training budget) every model
/// evaluated, the negative control, and the calibration gates. Its directory's settings are
/// guarded first ([`resume::prepare`]): with `cfg.resume`, whatever an earlier demo of the same
/// settings finished there is kept; without, the directory starts over.
pub fn run_seed(cfg: &ExperimentConfig, progress: &mut dyn FnMut(Stage)) -> Result<SeedRun> {
    cfg.validate()?;
    let _lock = rsr_core::lock::DirLock::acquire(&cfg.out, "an rsr experiment")?;
    resume::prepare(cfg)?;
    let mut runs = run_locked(std::slice::from_ref(cfg), &mut |_, s| progress(s), &mut |_, _| Ok(()))?;
    Ok(runs.remove(0))
}

/// Run several worlds (a study's seeds and their training runs) as one queue of models,
/// `cfgs[0].jobs` at once: every model of `cfgs[0]` (its variants, then its control), then every
/// model of `cfgs[1]`, and so on, each starting as soon as a worker is free — so with `--jobs 2`
/// no core waits for a world's last model before the next world's first starts. A model's bits
/// depend only on its own configuration and its share of the threads, never on what runs beside
/// it. A world is made ready (its corpora built, its suite read, its monitors fitted) when its
/// first model starts, one world at a time. `finished(k, run)` is called on the calling thread as
/// soon as every model of world `k` is in (worlds finish in about the order they start; a world
/// without models, `--train-tokens 0`, after the queue). Returns one [`SeedRun`] per config, in
/// order; on a failure, the models not yet started are not, and the first error (in queue order)
/// is returned once those in flight have finished — rerunning resumes.
pub fn run_seeds(
    cfgs: &[ExperimentConfig],
    progress: &mut dyn FnMut(usize, Stage),
    finished: &mut dyn FnMut(usize, &SeedRun) -> Result<()>,
) -> Result<Vec<SeedRun>> {
    for cfg in cfgs {
        cfg.validate()?;
    }
    // One writer per directory: a second demo (or study seed) on it would train the same runs. A
    // study's training runs of one world share its directory, so it is locked once.
    let mut locks = Vec::new();
    let mut outs: Vec<&std::path::Path> = Vec::new();
    for cfg in cfgs {
        if !outs.contains(&cfg.out.as_path()) {
            outs.push(&cfg.out);
            locks.push(rsr_core::lock::DirLock::acquire(&cfg.out, "an rsr experiment")?);
        }
    }
    let runs = run_locked(cfgs, progress, finished);
    drop(locks);
    runs
}

/// [`run_seeds`] once every directory is locked.
fn run_locked(
    cfgs: &[ExperimentConfig],
    progress: &mut dyn FnMut(usize, Stage),
    finished: &mut dyn FnMut(usize, &SeedRun) -> Result<()>,
) -> Result<Vec<SeedRun>> {
    use evaluate::{Done, Prepared};
    use std::sync::{Arc, Mutex};
    // Each world's models, listed once; the queue is (world, the model's place among its world's,
    // the model), in world order.
    let per_world: Vec<Vec<evaluate::Job>> = cfgs.iter().map(evaluate::jobs).collect();
    let mut left: Vec<usize> = per_world.iter().map(Vec::len).collect();
    let queue: Vec<(usize, usize, evaluate::Job)> = per_world
        .into_iter()
        .enumerate()
        .flat_map(|(k, jobs)| jobs.into_iter().enumerate().map(move |(p, j)| (k, p, j)))
        .collect();
    let mut outputs: Vec<Vec<Option<Done>>> = left.iter().map(|&n| (0..n).map(|_| None).collect()).collect();
    // Each world made ready once, one at a time (a study's training runs of a world share its
    // corpora: the second finds them built), and dropped when its last model is in. A worker
    // making one world ready holds that world alone: a model of a world already made ready starts
    // meanwhile.
    let ready: Vec<Mutex<Option<Arc<Prepared>>>> = cfgs.iter().map(|_| Mutex::new(None)).collect();
    let one_at_a_time = Mutex::new(());
    let prepare = |k: usize, progress: &mut dyn FnMut(Stage)| -> Result<Arc<Prepared>> {
        let mut slot = ready[k].lock().expect("no worker panics holding it");
        if let Some(world) = &*slot {
            return Ok(world.clone());
        }
        let _one = one_at_a_time.lock().expect("no worker panics holding it");
        let corpora = build_corpora(&cfgs[k], progress)?;
        progress(Stage::Corpora(&corpora));
        let world = Arc::new(Prepared::new(&cfgs[k], corpora)?);
        *slot = Some(world.clone());
        Ok(world)
    };
    let mut runs: Vec<Option<SeedRun>> = cfgs.iter().map(|_| None).collect();
    let mut failure: Option<(usize, rsr_core::Error)> = None;
    let jobs = cfgs.first().map(|c| c.jobs).unwrap_or(1);
    queue::at_once(
        queue.len(),
        jobs,
        |i, report| prepare(queue[i].0, report),
        |i, world, report| evaluate::run_job(&world, queue[i].2, report),
        &mut |i, s| progress(queue[i].0, s),
        &mut |i, result| {
            let (k, place, _) = queue[i];
            match result {
                Err(e) => {
                    if failure.as_ref().is_none_or(|(at, _)| i < *at) {
                        failure = Some((i, e));
                    }
                    false
                }
                Ok(done) => {
                    outputs[k][place] = Some(done);
                    left[k] -= 1;
                    if left[k] == 0 && failure.is_none() {
                        let world = ready[k].lock().expect("no worker panics holding it").take();
                        let corpora = world.map(|w| w.corpora.clone()).unwrap_or_default();
                        let run = seed_run(&cfgs[k], corpora, std::mem::take(&mut outputs[k]));
                        if let Err(e) = finished(k, &run) {
                            failure.get_or_insert((i, e));
                        }
                        runs[k] = Some(run);
                    }
                    failure.is_none()
                }
            }
        },
    );
    if let Some((_, e)) = failure {
        return Err(e);
    }
    // Worlds without models: their corpora alone (`--train-tokens 0`).
    for (k, cfg) in cfgs.iter().enumerate() {
        if runs[k].is_none() {
            let corpora = build_corpora(cfg, &mut |s| progress(k, s))?;
            progress(k, Stage::Corpora(&corpora));
            let run = seed_run(cfg, corpora, vec![]);
            finished(k, &run)?;
            runs[k] = Some(run);
        }
    }
    Ok(runs.into_iter().map(|r| r.expect("every world finished")).collect())
}

/// A world's run from its models' results, in [`evaluate::jobs`] order.
fn seed_run(cfg: &ExperimentConfig, corpora: Vec<CorpusRow>, outputs: Vec<Option<evaluate::Done>>) -> SeedRun {
    if cfg.train_tokens == 0 {
        return SeedRun { seed: cfg.seed, replicate: cfg.replicate, corpora, results: None };
    }
    let (mut runs, mut control) = (Vec::new(), None);
    for done in outputs.into_iter().flatten() {
        match done {
            evaluate::Done::Run(r) => runs.push(*r),
            evaluate::Done::Control(c) => control = Some(*c),
        }
    }
    let calibration = Calibration::of(&runs, control);
    SeedRun { seed: cfg.seed, replicate: cfg.replicate, corpora, results: Some(SeedResults { calibration, runs }) }
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
