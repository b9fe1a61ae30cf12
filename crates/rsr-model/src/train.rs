//! The training loop: read top to bottom.
//!
//! ```text
//! RUN/run.json                 the run's configuration (resume reads it back)
//! RUN/metrics.jsonl            one line per step: step, tokens, loss, val_loss, lr, tok/s, grad_norm
//! RUN/checkpoints/step-NNNNNNN/  model.safetensors, config.json, tokenizer.json,
//!                              optimizer.safetensors, state.json (step, tokens, the run's
//!                              configuration, and the `transform` that made the training data:
//!                              decoding reads its reflection cadence from there)
//! RUN/manifest.json            written when the run ends
//! ```

use crate::checkpoint;
use crate::config::ModelConfig;
use crate::data::{Batch, TokenStream};
use crate::model::{Acts, Model};
use crate::optim::{clip_grad_norm, AdamW, Schedule, Shape};
use rsr_core::manifest::Outcome;
use rsr_core::{atomic, Error, Result};
use rsr_pack::tokenizer::RsrTokenizer;
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TrainConfig {
    /// `rsr pack` output: train/, val/, tokenizer.json.
    pub data: PathBuf,
    /// Model preset: tiny, small, base, optionally reshaped (`tiny,heads=8`: [`ModelConfig::from_spec`]).
    pub preset: String,
    /// Training budget in tokens (inputs seen, masked or not).
    pub tokens: u64,
    pub batch_size: usize,
    pub seq_len: usize,
    pub lr: f32,
    pub min_lr_ratio: f32,
    /// Warm-up as a fraction of all steps.
    pub warmup: f32,
    /// The learning rate after warm-up: cosine decay, or warmup–stable–decay.
    #[serde(default)]
    pub schedule: Shape,
    /// `wsd`: the final decay, as a fraction of all steps.
    #[serde(default = "default_decay")]
    pub decay: f32,
    /// Train to a plateau: with `wsd`, hold the peak rate until the validation loss has not
    /// improved by [`PLATEAU_MIN_GAIN`] for this many validations in a row, then decay (for
    /// `decay` of the steps trained so far) and stop. `tokens` is then the cap. None: train to
    /// `tokens`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plateau: Option<u32>,
    pub weight_decay: f32,
    pub grad_clip: f32,
    pub seed: u64,
    /// Validate every this many steps (0: only at the end).
    pub eval_every: u64,
    pub eval_batches: usize,
    /// Save a checkpoint every this many tokens (0: only at the end).
    pub checkpoint_every: u64,
    /// Continued pretraining: the first steps read another pack (same tokenizer), then the run
    /// goes on with `data` under the same schedule. None: every step reads `data`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first: Option<FirstPhase>,
}

/// The first part of a continued-pretraining run ([`TrainConfig::first`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FirstPhase {
    /// The `rsr pack` output read first (its tokenizer must be `data`'s).
    pub data: PathBuf,
    /// Tokens read from it (whole steps, rounded down), out of the run's `tokens`.
    pub tokens: u64,
}

impl Default for TrainConfig {
    fn default() -> Self {
        Self {
            data: PathBuf::new(),
            preset: "tiny".into(),
            tokens: 1_000_000,
            batch_size: 16,
            seq_len: 256,
            lr: 3e-3,
            min_lr_ratio: 0.1,
            warmup: 0.05,
            schedule: Shape::Cosine,
            decay: default_decay(),
            plateau: None,
            weight_decay: 0.1,
            grad_clip: 1.0,
            seed: 0,
            eval_every: 100,
            eval_batches: 8,
            checkpoint_every: 0,
            first: None,
        }
    }
}

fn default_decay() -> f32 {
    0.2
}

/// The relative gain in validation loss that counts as still improving (0.5%).
pub const PLATEAU_MIN_GAIN: f32 = 0.005;

/// Where a plateau run stands: the best validation loss, the validations since it last
/// improved, and the step its decay began at (recorded in each checkpoint's state.json, so a
/// resumed run decays where it would have).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct PlateauState {
    pub best: Option<f32>,
    pub stale: u32,
    pub decay_from: Option<u64>,
}

impl PlateauState {
    /// Record a validation loss at `step`; true when the plateau is reached now.
    pub fn observe(&mut self, val: f32, patience: u32, step: u64) -> bool {
        if self.decay_from.is_some() {
            return false;
        }
        // A loss that is not a number is never a gain.
        let gain = match self.best {
            Some(b) => val < b * (1.0 - PLATEAU_MIN_GAIN),
            None => val.is_finite(),
        };
        if gain {
            self.best = Some(val);
            self.stale = 0;
        } else {
            self.stale += 1;
        }
        if self.stale >= patience {
            self.decay_from = Some(step);
        }
        self.decay_from.is_some()
    }

    /// The last step: the cap, or the end of the decay that began at the plateau (`decay` of
    /// the whole run, so `decay / (1 - decay)` of the steps before it).
    pub fn end(&self, cap: u64, decay: f32) -> u64 {
        match self.decay_from {
            Some(d) => (d + (d as f64 * decay as f64 / (1.0 - decay as f64).max(1e-6)).round() as u64).min(cap),
            None => cap,
        }
    }
}

impl TrainConfig {
    /// Sizes and rates a run can start with (before anything is read or allocated).
    pub fn validate(&self) -> std::result::Result<(), String> {
        for (name, v) in [("--batch-size", self.batch_size), ("--seq-len", self.seq_len)] {
            if v == 0 {
                return Err(format!("{name} must be at least 1"));
            }
        }
        if self.tokens == 0 {
            return Err("--tokens must be at least 1".into());
        }
        if let Some(patience) = self.plateau {
            if patience == 0 || self.schedule != Shape::Wsd || self.eval_every == 0 {
                return Err("--plateau needs a patience of at least 1, --schedule wsd and --eval-every above 0 \
                    (the plateau is read from the validation loss, then the rate decays)"
                    .into());
            }
        }
        if let Some(first) = &self.first {
            if first.tokens >= self.tokens {
                return Err(format!(
                    "--first-tokens {} must be below --tokens {}: the run ends on --data",
                    first.tokens, self.tokens
                ));
            }
            if self.plateau.is_some() {
                return Err("--plateau reads where the run stops from the validation loss, so it cannot be \
                    combined with a first phase on another pack (--first-data)"
                    .into());
            }
        }
        if !(0.0..=1.0).contains(&self.decay) {
            return Err(format!("--decay is a fraction of the steps, in [0, 1]; got {}", self.decay));
        }
        for (name, v) in [("--lr", self.lr), ("--warmup", self.warmup), ("--weight-decay", self.weight_decay)] {
            if !(v.is_finite() && v >= 0.0) {
                return Err(format!("{name} must be a finite number ≥ 0, got {v}"));
            }
        }
        // The shape is checked before any data is read (the vocabulary, which comes from the
        // shards, changes nothing of what is checked here).
        ModelConfig::from_spec(&self.preset, 2).map_err(|e| format!("--preset: {e}"))?;
        Ok(())
    }

    pub fn steps(&self) -> u64 {
        (self.tokens / (self.batch_size * self.seq_len) as u64).max(1)
    }

    /// The steps that read [`TrainConfig::first`]'s pack (0 without one).
    pub fn first_steps(&self) -> u64 {
        self.first.as_ref().map_or(0, |f| f.tokens / (self.batch_size * self.seq_len) as u64)
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct StepMetrics {
    pub step: u64,
    pub tokens: u64,
    pub loss: f32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub val_loss: Option<f32>,
    pub lr: f32,
    pub tok_per_s: f64,
    pub grad_norm: f32,
}

/// Another implementation of the same model and update that takes the
/// optimizer steps instead of this crate's CPU kernels — `rsr-candle` on a
/// GPU. The trainer keeps batching, schedule, validation, checkpoints and
/// resume; before validating or saving it asks the engine for the weights
/// and AdamW moments (same layout as [`Model::params`]).
pub trait StepEngine {
    /// One step (clip, then AdamW at `lr`); returns (loss, grad norm before clipping).
    fn step(&mut self, batch: &Batch, lr: f32) -> Result<(f32, f32)>;
    /// Copy the weights and the first and second moments out.
    fn sync(&mut self, params: &mut [f32], m: &mut [f32], v: &mut [f32]) -> Result<()>;
    /// What the manifest records (e.g. "candle cuda:0").
    fn describe(&self) -> String;
}

pub struct Trainer {
    pub cfg: TrainConfig,
    pub model: Model,
    m: Vec<f32>,
    v: Vec<f32>,
    decay: Vec<bool>,
    opt: AdamW,
    schedule: Schedule,
    train: TokenStream,
    /// [`TrainConfig::first`]'s train split, read for the first [`TrainConfig::first_steps`].
    first: Option<TokenStream>,
    val: Option<TokenStream>,
    acts: Acts,
    pub step: u64,
    run: PathBuf,
    tokenizer: PathBuf,
    eos: u32,
    engine: Option<Box<dyn StepEngine>>,
    /// The engine has stepped since the last sync: `model.params`, `m`, `v` are stale.
    stale: bool,
    /// The transform knobs recorded in the pack's manifest (mode, cadence…), or null.
    transform: serde_json::Value,
    /// `cfg.plateau`: where the run stands.
    plateau: PlateauState,
}

/// Make `run` ready for a new run (not a resume). A directory that already holds a run
/// (run.json, metrics or checkpoints) is an error unless `overwrite`, which removes that
/// run's files first — so old checkpoints never mix with new ones.
pub fn prepare_new_run(run: &Path, overwrite: bool) -> Result<()> {
    let parts = ["run.json", "metrics.jsonl", "checkpoints", rsr_core::manifest::FILE_NAME];
    let present: Vec<&str> = parts.iter().copied().filter(|p| run.join(p).exists()).collect();
    if present.is_empty() {
        return Ok(());
    }
    if !overwrite {
        return Err(Error::input(
            run,
            format!("already holds a training run ({})", present.join(", ")),
            "pass --resume to continue it, --overwrite to delete it and start over, or another --out",
        ));
    }
    for p in present {
        let path = run.join(p);
        let r = if path.is_dir() { std::fs::remove_dir_all(&path) } else { std::fs::remove_file(&path) };
        r.map_err(|e| Error::io(&path, e))?;
    }
    Ok(())
}

fn latest_checkpoint(run: &Path) -> Option<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(run.join("checkpoints"))
        .ok()?
        .flatten()
        .map(|e| e.path())
        .filter(|p| checkpoint::is_complete(p))
        .collect();
    dirs.sort();
    dirs.pop()
}

impl Trainer {
    /// Start a run in `run`, or resume it from its latest checkpoint when `resume`.
    pub fn new(run: &Path, cfg: TrainConfig, resume: bool) -> Result<Self> {
        let run_json = run.join("run.json");
        let cfg = if resume {
            let raw = std::fs::read(&run_json).map_err(|e| Error::io(&run_json, e))?;
            serde_json::from_slice(&raw)
                .map_err(|e| Error::input(&run_json, e.to_string(), "resume a directory written by `rsr train`"))?
        } else {
            cfg
        };
        cfg.validate().map_err(Error::Invalid)?;
        let tokenizer = cfg.data.join("tokenizer.json");
        let tok = RsrTokenizer::load(&tokenizer)?;
        let transform = rsr_pack::pack::recorded_transform(&cfg.data)?;
        let train = TokenStream::load(&cfg.data, "train")?;
        let first = match &cfg.first {
            Some(f) => Some(first_stream(f, &tokenizer, cfg.seq_len)?),
            None => None,
        };
        if train.vocab_size != tok.vocab_size() {
            return Err(Error::input(
                &tokenizer,
                format!("tokenizer vocabulary {} but the shards say {}", tok.vocab_size(), train.vocab_size),
                "train on the pack directory as `rsr pack` wrote it",
            ));
        }
        // The validation split the pack's manifest says it wrote must load (a damaged or missing
        // one is an error, never a silently skipped validation); one shorter than a sequence is
        // not used.
        let pack: Option<rsr_pack::pack::PackOutcome> = rsr_core::manifest::Outcome::read(&cfg.data).ok();
        let val = match pack.as_ref().map(|p| p.counts.splits.val.tokens) {
            Some(n) if n > 0 => Some(TokenStream::load(&cfg.data, "val")?),
            _ => None,
        }
        .filter(|v| v.len() > cfg.seq_len + 1);
        let mut mcfg = ModelConfig::from_spec(&cfg.preset, train.vocab_size).map_err(Error::Invalid)?;
        mcfg.max_position_embeddings = mcfg.max_position_embeddings.max(cfg.seq_len);
        mcfg.validate().map_err(|e| Error::Invalid(format!("--seq-len {}: {e}", cfg.seq_len)))?;
        // Know before allocating: the activations grow with batch × seq_len (and seq_len² in attention).
        crate::config::check_fits(
            mcfg.train_bytes(cfg.batch_size, cfg.seq_len),
            &format!("training `{}` at --batch-size {} --seq-len {}", cfg.preset, cfg.batch_size, cfg.seq_len),
            "use a smaller --batch-size or --seq-len",
        )
        .map_err(Error::Invalid)?;
        holds_a_sequence(&train, &cfg.data, cfg.seq_len)?;
        let steps = cfg.steps();
        let schedule = Schedule {
            max_lr: cfg.lr,
            min_lr_ratio: cfg.min_lr_ratio,
            warmup_steps: ((steps as f32 * cfg.warmup) as u64).max(1),
            total_steps: steps,
            shape: cfg.schedule,
            decay_steps: (steps as f32 * cfg.decay) as u64,
        };
        let (model, m, v, step, plateau) = match (resume, latest_checkpoint(run)) {
            (true, Some(ckpt)) => {
                let model = checkpoint::load_model(&ckpt)?;
                let (m, v) = checkpoint::load_optimizer(&ckpt, &model.layout)?;
                #[derive(Deserialize)]
                struct Step {
                    step: u64,
                    #[serde(default)]
                    plateau: PlateauState,
                }
                let path = ckpt.join("state.json");
                let state: Step = serde_json::from_slice(&std::fs::read(&path).map_err(|e| Error::io(&path, e))?)
                    .map_err(|e| {
                        Error::input(
                            &path,
                            format!("no step to resume from: {e}"),
                            "the checkpoint's state.json is damaged",
                        )
                    })?;
                (model, m, v, state.step, state.plateau)
            }
            (true, None) => {
                return Err(Error::input(run, "no checkpoint to resume from", "start the run without --resume"))
            }
            (false, _) => {
                let model = Model::new(mcfg, cfg.seed);
                let n = model.num_params();
                (model, vec![0.0; n], vec![0.0; n], 0, PlateauState::default())
            }
        };
        let decay = model.decay_mask();
        let mut bytes = serde_json::to_vec_pretty(&cfg).unwrap();
        bytes.push(b'\n');
        atomic::write_all(&run_json, &bytes)?;
        let acts = Acts::new(&model.cfg, cfg.batch_size, cfg.seq_len);
        let opt = AdamW { weight_decay: cfg.weight_decay, ..AdamW::default() };
        let eos = tok.special.endoftext;
        let run = run.to_path_buf();
        if resume {
            truncate_metrics(&run.join("metrics.jsonl"), step)?;
        } else {
            let _ = std::fs::remove_file(run.join("metrics.jsonl"));
        }
        let mut trainer = Self {
            cfg,
            model,
            m,
            v,
            decay,
            opt,
            schedule,
            train,
            first,
            val,
            acts,
            step,
            run,
            tokenizer,
            eos,
            engine: None,
            stale: false,
            transform,
            plateau,
        };
        trainer.apply_plateau();
        Ok(trainer)
    }

    /// The last step of this run: the budget's, or where the decay after a plateau ends.
    pub fn end(&self) -> u64 {
        self.plateau.end(self.cfg.steps(), self.cfg.decay)
    }

    /// Once the plateau is reached, the schedule decays from there to [`Trainer::end`].
    fn apply_plateau(&mut self) {
        if let Some(d) = self.plateau.decay_from {
            let end = self.end();
            self.schedule.total_steps = end;
            self.schedule.decay_steps = end - d;
        }
    }

    /// Take the steps with `make(model, m, v, opt)`'s engine from now on (it
    /// starts from the current weights and moments, so this works on resume too).
    pub fn set_engine(
        &mut self,
        make: impl FnOnce(&Model, &[f32], &[f32], &AdamW) -> Result<Box<dyn StepEngine>>,
    ) -> Result<()> {
        self.sync()?;
        self.engine = Some(make(&self.model, &self.m, &self.v, &self.opt)?);
        Ok(())
    }

    /// Bring the weights and moments back from the engine (if it has stepped).
    pub fn sync(&mut self) -> Result<()> {
        if let (true, Some(e)) = (self.stale, self.engine.as_mut()) {
            e.sync(&mut self.model.params, &mut self.m, &mut self.v)?;
        }
        self.stale = false;
        Ok(())
    }

    /// Where the steps run: "cpu kernels" or the engine's description.
    pub fn device(&self) -> String {
        self.engine.as_ref().map_or_else(|| "cpu kernels".to_string(), |e| e.describe())
    }

    /// One optimizer step; returns (loss, grad norm).
    pub fn train_step(&mut self) -> Result<(f32, f32)> {
        let (b, t) = (self.cfg.batch_size, self.cfg.seq_len);
        let stream = match &self.first {
            Some(first) if self.step < self.cfg.first_steps() => first,
            _ => &self.train,
        };
        let batch = stream.batch(self.cfg.seed, self.step, b, t);
        if let Some(e) = self.engine.as_mut() {
            let lr = self.schedule.lr_at(self.step);
            let out = e.step(&batch, lr)?;
            self.step += 1;
            self.stale = true;
            return Ok(out);
        }
        self.model.zero_grad();
        let (loss, _) = self.model.forward_backward(&mut self.acts, &batch.inputs, &batch.targets, &batch.mask);
        let norm = clip_grad_norm(&mut self.model.grads, self.cfg.grad_clip);
        let lr = self.schedule.lr_at(self.step);
        self.step += 1;
        self.opt.step(&mut self.model.params, &self.model.grads, &mut self.m, &mut self.v, &self.decay, lr, self.step);
        Ok((loss, norm))
    }

    /// Mean masked loss over up to `eval_batches` validation batches.
    pub fn val_loss(&mut self) -> Result<Option<f32>> {
        self.sync()?;
        let Some(val) = self.val.as_ref() else { return Ok(None) };
        let (b, t) = (self.cfg.batch_size, self.cfg.seq_len);
        let (mut sum, mut n) = (0.0f64, 0usize);
        for batch in val.sequential(b, t, self.cfg.eval_batches) {
            let (loss, k) = self.model.loss(&mut self.acts, &batch.inputs, &batch.targets, &batch.mask);
            sum += loss as f64 * k as f64;
            n += k;
        }
        Ok((n > 0).then(|| (sum / n as f64) as f32))
    }

    pub fn save_checkpoint(&mut self) -> Result<PathBuf> {
        self.sync()?;
        let dir = self.run.join("checkpoints").join(format!("step-{:07}", self.step));
        checkpoint::save_model(&dir, &self.model, self.eos, Some(&self.tokenizer))?;
        checkpoint::save_optimizer(&dir, &self.model.layout, &self.m, &self.v)?;
        let state = json!({ "step": self.step, "tokens": self.tokens_seen(), "train": self.cfg, "transform": self.transform,
                "plateau": self.plateau });
        atomic::write_all(dir.join("state.json"), serde_json::to_string_pretty(&state).unwrap().as_bytes())?;
        // The seal last: its presence marks a complete checkpoint, and every load checks it.
        checkpoint::seal(&dir)?;
        Ok(dir)
    }

    pub fn tokens_seen(&self) -> u64 {
        self.step * (self.cfg.batch_size * self.cfg.seq_len) as u64
    }

    /// Train until step `stop` (or the budget), logging every step, saving
    /// periodic checkpoints, and calling `on_step`. Returns the last metrics.
    pub fn run_until(&mut self, stop: u64, on_step: &mut dyn FnMut(&StepMetrics)) -> Result<Option<StepMetrics>> {
        let per_step = (self.cfg.batch_size * self.cfg.seq_len) as u64;
        let every_ckpt =
            if self.cfg.checkpoint_every == 0 { u64::MAX } else { (self.cfg.checkpoint_every / per_step).max(1) };
        let metrics_path = self.run.join("metrics.jsonl");
        let mut log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&metrics_path)
            .map_err(|e| Error::io(&metrics_path, e))?;
        let mut last = None;
        while self.step < stop.min(self.end()) {
            let ts = Instant::now();
            let lr = self.schedule.lr_at(self.step);
            let (loss, grad_norm) = self.train_step()?;
            if !loss.is_finite() || !grad_norm.is_finite() {
                // Diverged: stop before a checkpoint of NaN weights is written.
                return Err(Error::Invalid(format!(
                    "training diverged at step {}: loss {loss}, gradient norm {grad_norm}; no checkpoint was written \
                     for it (resume from the last one with a lower --lr)",
                    self.step
                )));
            }
            let tok_per_s = per_step as f64 / ts.elapsed().as_secs_f64();
            let eval_now =
                self.step == self.end() || (self.cfg.eval_every > 0 && self.step.is_multiple_of(self.cfg.eval_every));
            let val_loss = if eval_now { self.val_loss()? } else { None };
            if let (Some(patience), Some(v)) = (self.cfg.plateau, val_loss) {
                if self.plateau.observe(v, patience, self.step) {
                    self.apply_plateau();
                }
            }
            let steps = self.end();
            let m =
                StepMetrics { step: self.step, tokens: self.tokens_seen(), loss, val_loss, lr, tok_per_s, grad_norm };
            writeln!(log, "{}", serde_json::to_string(&m).unwrap()).map_err(|e| Error::io(&metrics_path, e))?;
            on_step(&m);
            // A periodic checkpoint closer to the end than half a period would nearly duplicate
            // the final one: leave it to the final checkpoint.
            if self.step.is_multiple_of(every_ckpt) && self.step < steps && steps - self.step >= every_ckpt.div_ceil(2)
            {
                self.save_checkpoint()?;
            }
            last = Some(m);
        }
        Ok(last)
    }

    /// Train to the budget, save the final checkpoint, write the manifest.
    pub fn run(&mut self, on_step: &mut dyn FnMut(&StepMetrics)) -> Result<TrainOutcome> {
        let t0 = Instant::now();
        let start_step = self.step;
        let last = self.run_until(u64::MAX, on_step)?;
        let final_ckpt = self.save_checkpoint()?;
        let secs = t0.elapsed().as_secs_f64();
        let trained = (self.step - start_step) * (self.cfg.batch_size * self.cfg.seq_len) as u64;
        let outcome = Outcome::new(
            "train",
            self.cfg.first.iter().map(|f| &f.data).chain([&self.cfg.data]).map(|p| p.display().to_string()).collect(),
            json!({ "train": self.cfg, "model": self.model.cfg, "params": self.model.num_params(), "transform": self.transform }),
            TrainCounts {
                steps: self.step,
                tokens: self.tokens_seen(),
                final_loss: last.as_ref().map(|m| m.loss),
                final_val_loss: last.as_ref().and_then(|m| m.val_loss),
                checkpoint: final_ckpt,
            },
            TrainTiming {
                seconds: secs,
                tokens_per_s: trained as f64 / secs.max(1e-9),
                threads: rayon::current_num_threads(),
                device: self.device(),
            },
        );
        outcome.manifest.write(&self.run)?;
        Ok(outcome)
    }
}

/// The train split of a first phase's pack, which must share the run's tokenizer (the same
/// token ids mean the same text in both).
fn first_stream(first: &FirstPhase, tokenizer: &Path, seq_len: usize) -> Result<TokenStream> {
    let theirs = first.data.join("tokenizer.json");
    let read = |p: &Path| std::fs::read(p).map_err(|e| Error::io(p, e));
    if read(&theirs)? != read(tokenizer)? {
        return Err(Error::input(
            &theirs,
            format!("is not the tokenizer of {}", tokenizer.display()),
            "pack both corpora with the same tokenizer (`rsr pack --tokenizer`) before training on one after the other",
        ));
    }
    let stream = TokenStream::load(&first.data, "train")?;
    holds_a_sequence(&stream, &first.data, seq_len)?;
    Ok(stream)
}

/// A train split (of the pack in `pack`) must hold at least one training window.
fn holds_a_sequence(train: &TokenStream, pack: &Path, seq_len: usize) -> Result<()> {
    if train.len() <= seq_len + 1 {
        return Err(Error::input(
            pack.join("train"),
            format!("the train split holds {} tokens, fewer than one sequence of {}", train.len(), seq_len + 1),
            "pack more documents, or train with a smaller --seq-len",
        ));
    }
    Ok(())
}

/// What a training run did — its manifest's `counts`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct TrainCounts {
    /// Optimizer steps, in all (a resumed run counts the steps before it too).
    pub steps: u64,
    pub tokens: u64,
    pub final_loss: Option<f32>,
    pub final_val_loss: Option<f32>,
    /// The final checkpoint's directory.
    pub checkpoint: PathBuf,
}

/// The wall-clock figures of a training run (this invocation's, when resumed).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct TrainTiming {
    pub seconds: f64,
    pub tokens_per_s: f64,
    pub threads: usize,
    pub device: String,
}

/// What [`Trainer::run`] did: its counts, its timing, and the run's manifest.
pub type TrainOutcome = Outcome<TrainCounts, TrainTiming>;

/// The outcome of a run in `run` that finished with configuration `cfg` (its final checkpoint
/// still there), if there is one: what a resumed experiment keeps.
pub fn finished(run: &Path, cfg: &TrainConfig) -> Option<TrainOutcome> {
    let done = TrainOutcome::read(run).ok()?;
    let same = done.manifest.knobs["train"] == serde_json::to_value(cfg).ok()?;
    (same && done.counts.checkpoint.is_dir()).then_some(done)
}

/// Keep the metrics of steps up to `step` (a resumed run rewrites the rest).
fn truncate_metrics(path: &Path, step: u64) -> Result<()> {
    let Ok(text) = std::fs::read_to_string(path) else {
        return Ok(());
    };
    let kept: String = text
        .lines()
        .filter(|l| {
            serde_json::from_str::<serde_json::Value>(l)
                .ok()
                .and_then(|v| v["step"].as_u64())
                .is_some_and(|s| s <= step)
        })
        .map(|l| format!("{l}\n"))
        .collect();
    atomic::write_all(path, kept.as_bytes())
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_plateau_is_patience_validations_without_a_gain_then_a_decay_of_its_share() {
        let mut p = super::PlateauState::default();
        // Improving by more than 0.5% each time: no plateau.
        for (i, v) in [3.0, 2.5, 2.2, 2.0].iter().enumerate() {
            assert!(!p.observe(*v, 2, 100 * (i as u64 + 1)));
        }
        // 0.2% better, then worse: two stale validations, the decay begins at the second.
        assert!(!p.observe(1.996, 2, 500));
        assert!(p.observe(2.01, 2, 600));
        assert_eq!(p.decay_from, Some(600));
        assert_eq!(p.best, Some(2.0));
        // A decay of 20% of the whole run: 150 steps after 600; never past the cap.
        assert_eq!(p.end(10_000, 0.2), 750);
        assert_eq!(p.end(700, 0.2), 700);
        // Later validations change nothing.
        assert!(!p.observe(0.1, 2, 700));
        assert_eq!(p.decay_from, Some(600));
        // A validation loss that is not a number never counts as a gain.
        let mut q = super::PlateauState { best: Some(2.0), ..Default::default() };
        assert!(q.observe(f32::NAN, 1, 10));
    }
}
