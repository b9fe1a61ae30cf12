//! Training a run of the experiment (resumable), and the negative control.

use super::{kept, ExperimentConfig, Stage, CONTROL_RUN};
use crate::gym::{GymResult, WorldSuite};
use rsr_core::Result;
use rsr_model::train::{FirstPhase, TrainConfig, TrainOutcome, Trainer};
use std::path::Path;

/// What a model trains on: a pack, after another's first steps when continued.
pub(super) struct Data<'a> {
    pub pack: &'a Path,
    pub first: Option<FirstPhase>,
}

/// How long a model trains.
#[derive(Debug, Clone, Copy)]
pub(super) enum Length {
    /// These many tokens.
    Tokens(u64),
    /// Until its validation loss stops improving, at most `cap` tokens
    /// ([`crate::results::Budget::Plateau`]).
    Plateau { cap: u64 },
}

/// The trainer's configuration for one model of the experiment: its recipe (preset, sequence
/// length, batch, schedule, rate, seed), `length` and `points` evenly spaced checkpoints.
fn recipe(cfg: &ExperimentConfig, data: Data, length: Length, points: usize) -> TrainConfig {
    let (tokens, plateau) = match length {
        Length::Tokens(t) => (t, false),
        Length::Plateau { cap } => (cap, true),
    };
    let t_cfg = TrainConfig {
        data: data.pack.to_path_buf(),
        preset: cfg.preset.clone(),
        tokens,
        batch_size: cfg.batch_size,
        seq_len: cfg.seq_len,
        schedule: cfg.schedule,
        decay: cfg.decay,
        lr: cfg.lr,
        seed: cfg.train_seed(),
        eval_every: 0,
        first: data.first,
        ..TrainConfig::default()
    };
    let t_cfg = if plateau {
        // Validate ~50 times over the cap: often enough to see the plateau, at a few percent
        // of the training's cost.
        TrainConfig {
            schedule: rsr_model::optim::Shape::Wsd,
            plateau: Some(crate::results::PLATEAU_PATIENCE),
            eval_every: (t_cfg.steps() / 50).max(1),
            ..t_cfg
        }
    } else {
        t_cfg
    };
    let per_step = (t_cfg.batch_size * t_cfg.seq_len) as u64;
    let steps = t_cfg.steps();
    TrainConfig { checkpoint_every: steps.div_ceil(points.max(1) as u64) * per_step, ..t_cfg }
}

/// Train one model on `data` for `length`, with `points` evenly spaced
/// checkpoints (the last is the final one). With `cfg.resume`, a run that finished with this
/// configuration is kept, and one that stopped part-way continues from its latest checkpoint
/// (exactly: the trainer's resume is bit-for-bit).
pub(super) fn train(
    cfg: &ExperimentConfig,
    data: Data,
    run_dir: &Path,
    length: Length,
    points: usize,
    name: &str,
    progress: &mut dyn FnMut(Stage),
) -> Result<TrainOutcome> {
    let t_cfg = recipe(cfg, data, length, points);
    let steps = t_cfg.steps();
    let resumable = cfg.resume && run_dir.join("run.json").is_file();
    if resumable {
        if let Some(done) = rsr_model::train::finished(run_dir, &t_cfg) {
            return Ok(done);
        }
    }
    let same_run = || -> Option<bool> {
        let raw = std::fs::read(run_dir.join("run.json")).ok()?;
        let was: TrainConfig = serde_json::from_slice(&raw).ok()?;
        let started = std::fs::read_dir(run_dir.join("checkpoints")).ok()?.next().is_some();
        Some(started && serde_json::to_value(&was).ok()? == serde_json::to_value(&t_cfg).ok()?)
    };
    let resume = resumable && same_run() == Some(true);
    if !resume {
        rsr_model::train::prepare_new_run(run_dir, true)?;
    }
    let mut trainer = Trainer::new(run_dir, t_cfg, resume)?;
    trainer.run(&mut |s| progress(Stage::Train(name, s.step, steps)))
}

/// The negative control: `raw` trained at the same budget on the world with the held-out facts
/// deleted ([`super::build_corpora`] built it when `cfg.control`), asked the control sets
/// ([`rsr_world::prompts::control_sets`]) of the real world's prompts (the same prompts: they do
/// not depend on the facts written).
pub fn train_control(cfg: &ExperimentConfig, suite: &WorldSuite, progress: &mut dyn FnMut(Stage)) -> Result<GymResult> {
    kept(cfg.resume, &cfg.control_result_path(), || {
        let control = cfg.control_dir();
        let run_dir = control.join("run");
        let data = Data { pack: &control.join("packed"), first: None };
        let trained = train(cfg, data, &run_dir, Length::Tokens(cfg.train_tokens), 1, CONTROL_RUN, progress)?;
        let model = rsr_decode::Loaded::from_dir(&trained.counts.checkpoint)?;
        let gen = cfg.decoding(&super::VARIANTS[0]);
        let sets = rsr_world::prompts::control_sets();
        let (sets, decode) =
            suite.run_sets(&rsr_decode::memo::Generations::new(&model), &sets, &gen, 0, &mut |what, i, n| {
                progress(Stage::Eval(CONTROL_RUN, what, i, n))
            })?;
        Ok(GymResult { sets, heldout: None, decode, capability: vec![] })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_recipe_carries_the_sequence_length_and_checkpoints_on_its_steps() {
        let pack = Path::new("packed");
        let cfg = ExperimentConfig::default();
        let today = recipe(&cfg, Data { pack, first: None }, Length::Tokens(4_000_000), 4);
        // Today's recipe is the trainer's own default length: the runs kept before the knob
        // existed (their run.json) are the same configuration, so they resume.
        assert_eq!(today.seq_len, TrainConfig::default().seq_len);
        assert_eq!(today.steps(), 4_000_000 / (8 * 256));
        let short = ExperimentConfig { seq_len: 128, batch_size: 16, ..cfg };
        let t = recipe(&short, Data { pack, first: None }, Length::Tokens(4_000_000), 4);
        assert_eq!((t.seq_len, t.batch_size, t.steps()), (128, 16, today.steps()), "equal tokens a step");
        assert_eq!(t.checkpoint_every % (16 * 128), 0);
        let plateau = recipe(&short, Data { pack, first: None }, Length::Plateau { cap: 8_000_000 }, 1);
        assert_eq!(plateau.seq_len, 128);
    }
}
