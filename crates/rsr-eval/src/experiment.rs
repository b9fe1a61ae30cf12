//! The equal-compute experiment `rsr demo` runs: one SafetyWorld, one
//! tokenizer, every corpus variant (raw, filter, rewrite, tag, rsr) built from
//! the same ground-truth labels at the same cadence and packed; then one model
//! per variant at the same token budget, each evaluated on every prompt set,
//! along a learning curve and under a fine-tuning attack, each decoded the way
//! it was trained to be.
//!
//! The binary only prints: what happens, and what is measured, is here.

use crate::gym::WorldSuite;
use crate::report::{Cost, RunSummary};
use rsr_core::annotation::AnnotationRecord;
use rsr_core::corpus::CorpusDir;
use rsr_core::doc::Document;
use rsr_core::jsonl::read_all;
use rsr_core::manifest::Manifest;
use rsr_core::Result;
use rsr_corpus::label::LabelSource;
use rsr_corpus::run::{self, RunOptions};
use rsr_corpus::transform::{Mode, TransformConfig, TransformedDoc};
use rsr_decode::generate::{Conditioning, GenConfig, Policy};
use rsr_decode::sample::SamplingConfig;
use rsr_model::finetune::FinetuneConfig;
use rsr_model::train::{TrainConfig, Trainer};
use rsr_pack::pack::PackConfig;
use rsr_pack::tokenizer::RsrTokenizer;
use rsr_world::WorldConfig;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// Every variant the experiment builds, in table order (one per transform mode).
pub const VARIANTS: [(&str, Mode); 6] = [
    ("raw", Mode::Raw),
    ("filter", Mode::Filter),
    ("rewrite", Mode::Rewrite),
    ("refuse", Mode::Refuse),
    ("tag", Mode::Tag),
    ("rsr", Mode::Rsr),
];

/// The variants trained and evaluated unless asked otherwise: `refuse` is the rewrite baseline
/// (a request followed by a refusal, as RefuseWeb trains); `rewrite` (the unsafe text replaced by
/// a notice) is still built and can be chosen by name.
pub const DEFAULT_VARIANTS: [&str; 5] = ["raw", "filter", "refuse", "tag", "rsr"];

/// How many tokens a variant trains on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Budget {
    /// The same training tokens for every variant (equal compute).
    Compute,
    /// The same passes over each variant's own corpus as raw makes over raw's: the budget
    /// scaled by the corpus's size against raw's (filter trains less, rsr and tag more).
    Passes,
}

impl Budget {
    pub fn name(self) -> &'static str {
        match self {
            Budget::Compute => "compute",
            Budget::Passes => "passes",
        }
    }

    /// `compute` or `passes`.
    pub fn parse(s: &str) -> std::result::Result<Budget, String> {
        match s {
            "compute" => Ok(Budget::Compute),
            "passes" => Ok(Budget::Passes),
            _ => Err(format!(
                "unknown budget `{s}`: choose compute (equal tokens) or passes (equal passes over each corpus)"
            )),
        }
    }

    /// The run's name: the variant's for equal compute, `VARIANT@passes` otherwise.
    pub fn run_name(self, variant: &str) -> String {
        match self {
            Budget::Compute => variant.to_string(),
            b => format!("{variant}@{}", b.name()),
        }
    }

    /// Training tokens for a corpus `vs_raw` times raw's size at the equal-compute `tokens`.
    pub fn tokens(self, tokens: u64, vs_raw: f64) -> u64 {
        match self {
            Budget::Compute => tokens,
            Budget::Passes => (tokens as f64 * vs_raw).round() as u64,
        }
    }
}

/// Every knob of the experiment.
#[derive(Debug, Clone)]
pub struct ExperimentConfig {
    /// Where the world, variants, packs, runs and the report go.
    pub out: PathBuf,
    pub seed: u64,
    /// Training documents in the world.
    pub docs: usize,
    /// Segment cadence in tokens (exact, with the experiment's tokenizer).
    pub every: usize,
    /// rsr: fraction of safe segments given a safe reflection (below 1, decoding rolls safe
    /// checks back).
    pub safe_rate: f64,
    /// rsr: fraction of unsafe reflections with a rationale.
    pub rationale_rate: f64,
    pub vocab_size: usize,
    /// Training tokens per variant (equal compute); 0 builds the corpora only.
    pub train_tokens: u64,
    /// Sequences per optimizer step (of 256 tokens).
    pub batch_size: usize,
    pub preset: String,
    /// Checkpoints per run for the learning curve (1: the final one only).
    pub curve_points: usize,
    /// Prompts per set at each learning-curve and tamper point.
    pub curve_per_set: usize,
    /// Fine-tuning steps after which attack success is measured ("0" alone: no attack).
    pub tamper_steps: Vec<u64>,
    /// The variants trained and evaluated (names from [`VARIANTS`]; empty: all). Every corpus
    /// is still built, so the corpus table is whole.
    pub variants: Vec<String>,
    /// Also train `raw` on the negative-control world (the held-out facts deleted) and measure
    /// what it composes: the calibration gates' control ([`crate::calibration`]).
    pub control: bool,
    /// The budgets each selected variant is trained at (raw's `passes` run is its `compute` run).
    pub budgets: Vec<Budget>,
    /// Build every variant (and train the external monitor) from the noisy annotator's labels
    /// (`rsr annotate --noise` spec, e.g. `miss=0.2,false_alarm=0.05`) instead of the ground
    /// truth; the judge and the "unsafe trainable" count still use the ground truth.
    pub noise: Option<String>,
    /// Sampled decoding beside greedy at the matched operating points: `n` samples per prompt
    /// (0: greedy only).
    pub samples: usize,
    /// Their temperature.
    pub sample_temperature: f32,
    /// Keep what an earlier run of the same configuration finished (each run's `summary.json`,
    /// the corpora's `corpora.json`) instead of redoing it.
    pub resume: bool,
}

/// The annotation `noise` writes beside the ground truth.
pub const NOISY: &str = "noisy";

/// Training documents a linear probe reads (each sentence one example).
pub const PROBE_DOCS: usize = 3000;

/// The negative control's run name.
pub const CONTROL_RUN: &str = "raw-control";

/// The sets the negative-control model is asked.
pub const CONTROL_SETS: [&str; 3] = ["harmful_composed", "open_book", "benign_composed"];

/// Where the experiment is, for a progress display.
pub enum Stage<'a> {
    /// Generating the world: documents written of all.
    World(u64, u64),
    /// Building variant `name`: documents transformed so far.
    Variant(&'a str, u64),
    /// Training variant `name`: step of steps.
    Train(&'a str, u64, u64),
    /// Evaluating variant `name`: what, done of all.
    Eval(&'a str, &'a str, usize, usize),
}

/// What one variant puts in front of the loss.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CorpusRow {
    pub name: String,
    pub docs: u64,
    /// Exact tokens after packing, `<|endoftext|>` included.
    pub tokens: u64,
    pub vs_raw: f64,
    pub masked_fraction: f64,
    pub reflections: u64,
    /// Words of ground-truth unsafe sentences left trainable (see [`unsafe_trainable_words`]).
    pub unsafe_trainable: u64,
}

impl ExperimentConfig {
    /// The annotation every variant is built from: `ground_truth`, or `noisy` with `noise`.
    pub fn labels(&self) -> &'static str {
        if self.noise.is_some() {
            NOISY
        } else {
            rsr_world::write::GROUND_TRUTH
        }
    }

    pub fn world_dir(&self) -> PathBuf {
        self.out.join("world")
    }
    pub fn tokenizer_path(&self) -> PathBuf {
        self.out.join("tokenizer.json")
    }
    pub fn variant_dir(&self, name: &str) -> PathBuf {
        self.out.join("variants").join(name)
    }
    pub fn packed_dir(&self, name: &str) -> PathBuf {
        self.out.join("packed").join(name)
    }
    pub fn run_dir(&self, name: &str) -> PathBuf {
        self.out.join("runs").join(name)
    }
    /// The negative-control world: the same world with the held-out facts deleted.
    pub fn control_dir(&self) -> PathBuf {
        self.out.join("control")
    }
    /// Whether variant `name` is trained and evaluated.
    pub fn selected(&self, name: &str) -> bool {
        if self.variants.is_empty() {
            DEFAULT_VARIANTS.contains(&name)
        } else {
            self.variants.iter().any(|v| v == name)
        }
    }
    /// Reject a variant name that is not one of [`VARIANTS`].
    pub fn validate(&self) -> Result<()> {
        for v in &self.variants {
            if !VARIANTS.iter().any(|(n, _)| n == v) {
                let names: Vec<_> = VARIANTS.iter().map(|(n, _)| *n).collect();
                return Err(rsr_core::Error::Invalid(format!(
                    "unknown variant `{v}`: choose from {}",
                    names.join(", ")
                )));
            }
        }
        Ok(())
    }

    /// How each variant decodes: reflections with the `stop` policy at the training cadence
    /// for rsr, conditioned on `<|safe|>` for tag, plainly for the rest; greedy.
    pub fn decoding(&self, mode: Mode) -> GenConfig {
        GenConfig {
            max_tokens: 48,
            sampling: SamplingConfig { temperature: 0.0, top_k: 0, top_p: 1.0 },
            stop: vec![rsr_core::chat::STOP.into()],
            policy: if mode == Mode::Rsr { Policy::Stop } else { Policy::Off },
            every: self.every,
            conditioning: if mode == Mode::Tag { Conditioning::Tag } else { Conditioning::Plain },
            ..GenConfig::default()
        }
    }
}

/// Generate the world, train the one tokenizer, build and pack every variant. With
/// `cfg.resume`, corpora an earlier run finished (its `corpora.json`) are kept as they are.
pub fn build_corpora(cfg: &ExperimentConfig, progress: &mut dyn FnMut(Stage)) -> Result<Vec<CorpusRow>> {
    kept(cfg.resume, &cfg.out.join("corpora.json"), || build_corpora_now(cfg, progress))
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

fn build_corpora_now(cfg: &ExperimentConfig, progress: &mut dyn FnMut(Stage)) -> Result<Vec<CorpusRow>> {
    let world_dir = cfg.world_dir();
    let config = WorldConfig { docs: cfg.docs, ..WorldConfig::default() };
    config.validate().map_err(rsr_core::Error::Invalid)?;
    let total = cfg.docs as u64;
    rsr_world::write::write_world(&world_dir, cfg.seed, config, false, &mut |d, _| progress(Stage::World(d, total)))?;

    // One tokenizer for every variant, trained on the world's text, so token counts compare.
    let input = CorpusDir::new(&world_dir);
    let docs = read_all::<Document>(input.documents()?)?;
    let unsafe_sentences = unsafe_sentences(&input, &docs)?;
    let tok = RsrTokenizer::train(docs.iter().map(|d| d.text.as_str()), cfg.vocab_size, 2)?;
    tok.save(&cfg.tokenizer_path())?;

    if let Some(spec) = &cfg.noise {
        rsr_corpus::run::annotate_noisy(&input, rsr_world::write::GROUND_TRUTH, NOISY, spec, cfg.seed, true)?;
    }
    let labels = LabelSource::Annotations(cfg.labels());
    let mut built: Vec<(&'static str, Manifest, Manifest, u64)> = Vec::new();
    for (name, mode) in VARIANTS {
        let t_cfg = TransformConfig {
            mode,
            every: cfg.every,
            safe_rate: cfg.safe_rate,
            rationale_rate: cfg.rationale_rate,
            seed: cfg.seed,
            ..TransformConfig::default()
        };
        let dir = cfg.variant_dir(name);
        let t = run::transform(&input, &dir, &t_cfg, labels, &RunOptions::default(), &tok, &mut |d, _| {
            progress(Stage::Variant(name, d))
        })?;
        let pack_cfg = PackConfig { seed: cfg.seed, ..PackConfig::default() };
        let p = rsr_pack::pack::pack(&CorpusDir::new(&dir), &cfg.packed_dir(name), &tok, &pack_cfg, &mut |_| {})?;
        built.push((name, t, p, unsafe_trainable_words(&unsafe_sentences, &dir)?));
    }
    if cfg.control && cfg.train_tokens > 0 {
        // The negative control: the same seed, the held-out facts deleted, raw only.
        let control = cfg.control_dir();
        let config = WorldConfig { docs: cfg.docs, omit_heldout_facts: true, ..WorldConfig::default() };
        rsr_world::write::write_world(&control.join("world"), cfg.seed, config, false, &mut |_, _| {})?;
        let t_cfg = TransformConfig { mode: Mode::Raw, every: cfg.every, seed: cfg.seed, ..TransformConfig::default() };
        let input = CorpusDir::new(control.join("world"));
        let dir = control.join("variant");
        run::transform(&input, &dir, &t_cfg, labels, &RunOptions::default(), &tok, &mut |d, _| {
            progress(Stage::Variant(CONTROL_RUN, d))
        })?;
        let pack_cfg = PackConfig { seed: cfg.seed, ..PackConfig::default() };
        rsr_pack::pack::pack(&CorpusDir::new(&dir), &control.join("packed"), &tok, &pack_cfg, &mut |_| {})?;
    }
    let total = |p: &Manifest, k: &str| -> u64 {
        ["train", "val"].iter().map(|s| p.counts["splits"][s][k].as_u64().unwrap_or(0)).sum()
    };
    let raw_tokens = total(&built[0].2, "tokens").max(1) as f64;
    Ok(built
        .into_iter()
        .map(|(name, t, p, unsafe_trainable)| {
            let tokens = total(&p, "tokens");
            CorpusRow {
                name: name.to_string(),
                docs: t.counts["docs_out"].as_u64().unwrap_or(0),
                tokens,
                vs_raw: tokens as f64 / raw_tokens,
                masked_fraction: total(&p, "masked_tokens") as f64 / tokens.max(1) as f64,
                reflections: total(&p, "reflections"),
                unsafe_trainable,
            }
        })
        .collect())
}

/// The ground-truth unsafe sentences of each world document, read once.
fn unsafe_sentences(world: &CorpusDir, docs: &[Document]) -> Result<HashMap<String, Vec<String>>> {
    let text: HashMap<&str, &str> = docs.iter().map(|d| (d.id.as_str(), d.text.as_str())).collect();
    let ann = read_all::<AnnotationRecord>(world.annotation(rsr_world::write::GROUND_TRUTH))?;
    Ok(ann
        .into_iter()
        .map(|a| {
            let t = text[a.id.as_str()];
            let unsafe_: Vec<String> =
                a.spans.iter().filter(|s| s.is_unsafe()).map(|s| t[s.start..s.end].to_string()).collect();
            (a.id, unsafe_)
        })
        .collect())
}

/// Whitespace words of ground-truth unsafe sentences that appear verbatim in
/// a variant's trainable (unmasked) text: what a model could still learn to produce.
pub fn unsafe_trainable_words(unsafe_sentences: &HashMap<String, Vec<String>>, variant: &Path) -> Result<u64> {
    let mut total = 0u64;
    for t in read_all::<TransformedDoc>(CorpusDir::new(variant).documents()?)? {
        let trainable: String = t
            .text
            .char_indices()
            .map(|(i, c)| if t.masked.iter().any(|r| r[0] <= i && i < r[1]) { '\u{0}' } else { c })
            .collect();
        for sentence in unsafe_sentences.get(&t.id).into_iter().flatten() {
            if trainable.contains(sentence.as_str()) {
                total += sentence.split_whitespace().count() as u64;
            }
        }
    }
    Ok(total)
}

/// Train one model per selected variant and budget (checkpoints along the way for the learning
/// curve) and evaluate each: the full suite on the final checkpoint, the curve over the others,
/// every monitor's matched operating point, the tamper attack. Returns one run summary per
/// (variant, budget), each also written to its run's `summary.json` (kept by `cfg.resume`).
pub fn train_and_evaluate(
    cfg: &ExperimentConfig,
    corpora: &[CorpusRow],
    progress: &mut dyn FnMut(Stage),
) -> Result<Vec<RunSummary>> {
    let world = cfg.world_dir();
    let suite = WorldSuite::open(&world)?;
    // The external monitor every variant gets: a `hashed` classifier on the world's
    // ground-truth sentence labels (the labels filter and the transforms used).
    let monitor = world_classifier(&world, cfg.labels())?;
    let trace_prompts = crate::operating::prompts(&suite)?;
    let mut runs = Vec::new();
    for budget in if cfg.budgets.is_empty() { &[Budget::Compute][..] } else { &cfg.budgets[..] } {
        for (name, mode) in VARIANTS {
            if !cfg.selected(name) || (*budget != Budget::Compute && mode == Mode::Raw) {
                continue;
            }
            let run = RunSpec { name, mode, budget: *budget };
            runs.push(evaluate_run(cfg, corpora, &suite, &monitor, &trace_prompts, run, progress)?);
        }
    }
    Ok(runs)
}

/// One model of the experiment: a variant at a budget.
#[derive(Debug, Clone, Copy)]
struct RunSpec {
    name: &'static str,
    mode: Mode,
    budget: Budget,
}

fn evaluate_run(
    cfg: &ExperimentConfig,
    corpora: &[CorpusRow],
    suite: &WorldSuite,
    monitor: &rsr_classify::Classifier,
    trace_prompts: &[rsr_world::prompts::PromptRecord],
    run: RunSpec,
    progress: &mut dyn FnMut(Stage),
) -> Result<RunSummary> {
    let run_name = run.budget.run_name(run.name);
    let run_dir = cfg.run_dir(&run_name);
    let done = run_dir.join("summary.json");
    if cfg.resume && done.is_file() {
        // Kept, unless it lacks (or has) the sampled rows this run asks for: then the model is
        // kept and only evaluated again.
        let summary = crate::report::load(&[&done])?.remove(0);
        let sampled = summary.operating.iter().any(|o| o.monitor.contains("(T="));
        if sampled == (cfg.samples > 0) {
            return Ok(summary);
        }
    }
    let world = cfg.world_dir();
    let row = corpora.iter().find(|c| c.name == run.name);
    let tokens = run.budget.tokens(cfg.train_tokens, row.map(|r| r.vs_raw).unwrap_or(1.0));
    let (m, _) = train(cfg, &cfg.packed_dir(run.name), &run_dir, tokens, cfg.curve_points, &run_name, progress)?;
    let ckpt = PathBuf::from(m.counts["checkpoint"].as_str().unwrap_or_default());
    let gen = cfg.decoding(run.mode);
    let mut tick = |what: &str, i: usize, n: usize| progress(Stage::Eval(&run_name, what, i, n));
    let mut model = rsr_decode::Loaded::from_dir(&ckpt)?;
    let results = crate::gym(&model, &world, &gen, 0, &mut tick)?;
    let curve = if cfg.curve_points > 1 {
        crate::curve::curve(&run_dir, &world, &gen, cfg.curve_per_set, &mut tick)?
    } else {
        vec![]
    };
    // Every variant at the same over-refusal: θ per monitor on validation, scored on test
    // (before the tamper attack below fine-tunes the model in place).
    tick("matched operating point", 0, 1);
    let own = matches!(run.mode, Mode::Rsr | Mode::Tag);
    // Variants with no safety signal of their own get a linear probe on their hidden states.
    let probe = if own {
        None
    } else {
        tick("linear probe", 0, 1);
        Some(crate::linear_probe::LinearProbe::train(&model, &world, cfg.labels(), PROBE_DOCS)?)
    };
    let monitors = crate::operating::Monitors { own, classifier: Some(monitor), probe: probe.as_ref() };
    let traces = crate::operating::traces(&model, trace_prompts, &gen, monitors)?;
    let mut operating: Vec<_> = traces
        .iter()
        .map(|(m, t)| crate::operating::operating_point(suite, t, m, crate::operating::DEFAULT_BUDGET))
        .collect();
    // And without any monitor (θ = ∞): for rsr, masking alone.
    if let Some((_, t)) = traces.first() {
        operating.push(crate::operating::unmonitored(suite, t));
    }
    if cfg.samples > 0 {
        tick("matched operating point, sampled", 0, 1);
        let samples = crate::operating::Samples { n: cfg.samples, temperature: cfg.sample_temperature };
        let sampled = crate::operating::sampled_traces(&model, trace_prompts, &gen, monitors, samples)?;
        for (m, t) in &sampled {
            operating.push(crate::operating::operating_point(suite, t, m, crate::operating::DEFAULT_BUDGET));
        }
        if let Some((_, t)) = sampled.first() {
            operating.push(crate::operating::OperatingPoint {
                monitor: samples.label("none"),
                ..crate::operating::unmonitored(suite, t)
            });
        }
    }
    let tamper = if cfg.tamper_steps.iter().any(|&s| s > 0) {
        // The attacker's data: the world's training documents that hold unsafe text, as written.
        let data = crate::tamper::attack_data(&model, &world, rsr_world::write::GROUND_TRUTH)?;
        let ft = FinetuneConfig { seed: cfg.seed, ..FinetuneConfig::default() };
        crate::tamper::tamper(&mut model, &data, suite, &gen, ft, &cfg.tamper_steps, cfg.curve_per_set, &mut tick)?
    } else {
        vec![]
    };
    let summary = RunSummary {
        name: run_name.clone(),
        decoding: serde_json::to_value(&gen).expect("a GenConfig serialises"),
        results: Some(results),
        curve,
        tamper,
        operating,
        cost: Cost {
            corpus_tokens: row.map(|r| r.tokens),
            corpus_vs_raw: row.map(|r| r.vs_raw),
            train_tokens_per_s: m.timing["tokens_per_s"].as_f64(),
        },
        variant: Some(run.name.to_string()),
        budget: Some(run.budget),
        train_tokens: Some(tokens),
        ..RunSummary::default()
    };
    rsr_core::atomic::write_all(&done, serde_json::to_string_pretty(&summary).expect("serialises").as_bytes())?;
    Ok(summary)
}

/// A `hashed` classifier trained on every sentence of the world's training documents with its
/// label in annotation `labels` (the one the variants were built from).
pub fn world_classifier(world: &Path, labels: &str) -> Result<rsr_classify::Classifier> {
    let (examples, _) = rsr_corpus::examples::from_corpus(world, labels)?;
    let examples: Vec<_> = examples.into_iter().map(|(_, e)| e).collect();
    Ok(rsr_classify::Classifier::train(&examples, &rsr_classify::TrainConfig::default()))
}

/// Train one model on the shards in `data` for `tokens`, with `points`
/// evenly spaced checkpoints (the last is the final one).
fn train(
    cfg: &ExperimentConfig,
    data: &Path,
    run_dir: &Path,
    tokens: u64,
    points: usize,
    name: &str,
    progress: &mut dyn FnMut(Stage),
) -> Result<(Manifest, u64)> {
    let t_cfg = TrainConfig {
        data: data.to_path_buf(),
        preset: cfg.preset.clone(),
        tokens,
        batch_size: cfg.batch_size,
        seed: cfg.seed,
        eval_every: 0,
        ..TrainConfig::default()
    };
    let per_step = (t_cfg.batch_size * t_cfg.seq_len) as u64;
    let steps = t_cfg.steps();
    let t_cfg = TrainConfig { checkpoint_every: steps.div_ceil(points.max(1) as u64) * per_step, ..t_cfg };
    // Resuming: a run that finished with this configuration is kept; one that stopped part-way
    // continues from its latest checkpoint (exactly: the trainer's resume is bit-for-bit).
    let same = |m: &Manifest| m.knobs["train"] == serde_json::to_value(&t_cfg).expect("a TrainConfig serialises");
    let resumable = cfg.resume && run_dir.join("run.json").is_file();
    if resumable {
        if let Ok(m) = Manifest::read(run_dir) {
            if same(&m) && m.counts["checkpoint"].as_str().is_some_and(|c| Path::new(c).is_dir()) {
                return Ok((m, steps));
            }
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
    let m = trainer.run(&mut |s| progress(Stage::Train(name, s.step, steps)))?;
    Ok((m, steps))
}

/// The negative control: `raw` trained at the same budget on the world with the held-out facts
/// deleted ([`build_corpora`] built it when `cfg.control`), asked [`CONTROL_SETS`] of the real
/// world's prompts (the same prompts: they do not depend on the facts written).
pub fn train_control(cfg: &ExperimentConfig, progress: &mut dyn FnMut(Stage)) -> Result<crate::gym::GymResult> {
    kept(cfg.resume, &cfg.control_dir().join("result.json"), || train_control_now(cfg, progress))
}

fn train_control_now(cfg: &ExperimentConfig, progress: &mut dyn FnMut(Stage)) -> Result<crate::gym::GymResult> {
    let control = cfg.control_dir();
    let run_dir = control.join("run");
    let (m, _) = train(cfg, &control.join("packed"), &run_dir, cfg.train_tokens, 1, CONTROL_RUN, progress)?;
    let ckpt = PathBuf::from(m.counts["checkpoint"].as_str().unwrap_or_default());
    let model = rsr_decode::Loaded::from_dir(&ckpt)?;
    let suite = WorldSuite::open(&cfg.world_dir())?;
    let gen = cfg.decoding(Mode::Raw);
    let (sets, decode) = suite
        .run_sets(&model, &CONTROL_SETS, &gen, 0, &mut |what, i, n| progress(Stage::Eval(CONTROL_RUN, what, i, n)))?;
    Ok(crate::gym::GymResult { sets, heldout: None, decode, capability: vec![] })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_passes_scale_the_budget_by_the_corpus_size() {
        assert_eq!(Budget::Compute.tokens(4_000_000, 0.63), 4_000_000);
        assert_eq!(Budget::Passes.tokens(4_000_000, 0.63), 2_520_000);
        assert_eq!(Budget::Passes.tokens(4_000_000, 1.09), 4_360_000);
        assert_eq!(Budget::Compute.run_name("rsr"), "rsr");
        assert_eq!(Budget::Passes.run_name("rsr"), "rsr@passes");
        assert_eq!(Budget::parse("passes"), Ok(Budget::Passes));
        assert!(Budget::parse("plateau").unwrap_err().contains("compute"));
    }

    #[test]
    fn the_default_variants_are_refuse_not_rewrite_and_every_mode_is_a_variant() {
        let cfg = ExperimentConfig {
            out: "x".into(),
            seed: 0,
            docs: 1,
            every: 24,
            safe_rate: 0.5,
            rationale_rate: 0.0,
            vocab_size: 512,
            train_tokens: 0,
            batch_size: 1,
            preset: "tiny".into(),
            curve_points: 1,
            curve_per_set: 0,
            tamper_steps: vec![0],
            variants: vec![],
            control: false,
            budgets: vec![],
            noise: None,
            samples: 0,
            sample_temperature: 0.7,
            resume: false,
        };
        let trained: Vec<&str> = VARIANTS.iter().map(|(n, _)| *n).filter(|n| cfg.selected(n)).collect();
        assert_eq!(trained, DEFAULT_VARIANTS);
        assert!(!cfg.selected("rewrite"));
        let named = ExperimentConfig { variants: vec!["rewrite".into()], ..cfg.clone() };
        assert!(named.selected("rewrite") && !named.selected("rsr"));
        assert!(ExperimentConfig { variants: vec!["rewritten".into()], ..cfg }.validate().is_err());
    }
}
