//! The experiment's knobs and where everything it writes lives.

use rsr_core::Result;
use rsr_corpus::transform::{AfterUnsafe, Aggregate, FilterUnit, MaskPolicy, Mode, RefusalForm, TransformConfig};
use rsr_decode::generate::{Conditioning, GenConfig, Policy};
use rsr_decode::sample::SamplingConfig;
use rsr_model::optim::Shape;
use rsr_world::WorldConfig;
use std::path::PathBuf;

use crate::results::Budget;

/// One variant of the experiment: a transform mode and the transform knobs it sets apart from
/// the experiment's own (an ablation changes one thing from the default rsr; a baseline trial one
/// thing from its baseline's default).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Variant {
    pub name: &'static str,
    pub mode: Mode,
    /// Loss-mask policy (`None`: the transform's default, unsafe text masked).
    pub mask: Option<MaskPolicy>,
    /// What follows an unsafe reflection (`None`: the default, the text continues).
    pub after_unsafe: Option<AfterUnsafe>,
    /// The rsr safe rate (`None`: the experiment's `--safe-rate`).
    pub safe_rate: Option<f64>,
    /// The cadence (`None`: the experiment's `--every`); decoding checks at the same cadence.
    pub every: Option<usize>,
    /// filter: the threshold and how segment labels aggregate over a document (`None`: the
    /// transform's defaults, max at 0.5).
    pub tau: Option<f32>,
    pub aggregate: Option<Aggregate>,
    /// filter: drop documents or segments (`None`: documents).
    pub filter_unit: Option<FilterUnit>,
    /// tag: the fraction of segments left untagged (`None`: the transform's default, 1%).
    pub untagged: Option<f64>,
    /// refuse: what stands in for an unsafe answer (`None`: the default, `varied`).
    pub refusal: Option<RefusalForm>,
    /// How it trains on its corpus (an ablation that changes only this trains on its mode's
    /// corpus: [`Variant::corpus`]).
    pub training: Training,
    /// One line for `--help` and docs/ablations.md (empty for the transform modes).
    pub summary: &'static str,
}

/// How a variant spends its budget.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Training {
    /// The run's budget, all of it on the variant's own corpus.
    Budget,
    /// The budget divided by the corpus's trained fraction (1 − its masked fraction): as many
    /// trained (loss-bearing) tokens as raw takes from the budget, at more compute.
    EqualTrained,
    /// Continued pretraining: the first `raw_share` of the budget on raw's corpus, then the rest
    /// on its own, under one learning-rate schedule.
    AfterRaw { raw_share: f64 },
}

const fn mode_variant(mode: Mode) -> Variant {
    Variant {
        name: mode.name(),
        mode,
        mask: None,
        after_unsafe: None,
        safe_rate: None,
        every: None,
        tau: None,
        aggregate: None,
        filter_unit: None,
        untagged: None,
        refusal: None,
        training: Training::Budget,
        summary: "",
    }
}

/// A configuration of `mode` apart from its default: built only when a run asks for it by name.
const fn configuration(mode: Mode, name: &'static str, summary: &'static str) -> Variant {
    Variant { name, summary, ..mode_variant(mode) }
}

const fn ablation(name: &'static str, summary: &'static str) -> Variant {
    configuration(Mode::Rsr, name, summary)
}

/// Continued pretraining, as `rsr-continued` has it: the first half of the budget on raw's corpus,
/// then the rest on `mode`'s.
const fn continued(mode: Mode, name: &'static str, summary: &'static str) -> Variant {
    Variant { training: Training::AfterRaw { raw_share: 0.5 }, ..configuration(mode, name, summary) }
}

/// The ablations of rsr (docs/ablations.md): each changes one thing from the default rsr, and
/// is built only when a run asks for it by name.
pub const ABLATIONS: [Variant; 7] = [
    Variant {
        mask: Some(MaskPolicy::None),
        ..ablation("rsr-nomask", "reflections inserted, nothing masked: the unsafe text is trained too")
    },
    Variant {
        after_unsafe: Some(AfterUnsafe::Redirect),
        ..ablation("rsr-redirect", "a trained redirect sentence after each unsafe reflection")
    },
    Variant { safe_rate: Some(1.0), ..ablation("rsr-safe1", "every safe segment gets a safe reflection (rate 1)") },
    Variant { every: Some(64), ..ablation("rsr-every64", "reflections every 64 tokens instead of every 24") },
    Variant {
        mask: Some(MaskPolicy::Answer),
        ..ablation("rsr-answer-mask", "only the harmful answer masked: the harmful request stays trainable")
    },
    Variant {
        training: Training::EqualTrained,
        ..ablation("rsr-equal-trained", "rsr's corpus at as many trained (unmasked) tokens as raw: more compute")
    },
    continued(Mode::Rsr, "rsr-continued", "continued pretraining: the first half of the budget on raw, then rsr"),
];

const fn filter_mean(name: &'static str, tau: f32, summary: &'static str) -> Variant {
    Variant { tau: Some(tau), aggregate: Some(Aggregate::Mean), ..configuration(Mode::Filter, name, summary) }
}

const fn refusal_form(name: &'static str, form: RefusalForm, summary: &'static str) -> Variant {
    Variant { refusal: Some(form), ..configuration(Mode::Refuse, name, summary) }
}

const fn tag_untagged(name: &'static str, untagged: f64, summary: &'static str) -> Variant {
    Variant { untagged: Some(untagged), ..configuration(Mode::Tag, name, summary) }
}

/// The baselines' configuration trials (docs/ablations.md, "Fair choice"): as many per baseline
/// as rsr had configurations, each changing one thing from its baseline's default — the
/// continued schedule rsr's candidate uses, and the baseline's own knob (filter's threshold under
/// mean aggregation, tag's untagged rate). Built only when asked for by name.
pub const BASELINE_TRIALS: [Variant; 19] = [
    continued(Mode::Filter, "filter-continued", "continued pretraining: the first half on raw, then filter"),
    // Under mean aggregation only τ = 0.5, 0.6 and 0.7 give corpora apart from the default's (and
    // from each other) at the experiment's cadence: docs/ablations.md, "Fair choice".
    filter_mean("filter-mean50", 0.5, "drop a document when ≥ 50% of its segments are unsafe (mean, not max)"),
    filter_mean("filter-mean60", 0.6, "drop a document when 60% or more of its segments are unsafe"),
    filter_mean("filter-mean70", 0.7, "drop a document when 70% or more of its segments are unsafe"),
    Variant {
        filter_unit: Some(FilterUnit::Segment),
        ..configuration(Mode::Filter, "filter-segments", "drop the unsafe segments, keep the rest of each document")
    },
    continued(Mode::Refuse, "refuse-continued", "continued pretraining: the first half on raw, then refuse"),
    refusal_form("refuse-fixed", RefusalForm::Fixed, "one refusal sentence every time (the default draws from six)"),
    refusal_form("refuse-category", RefusalForm::Category, "a refusal naming what the answer was about"),
    refusal_form("refuse-offer", RefusalForm::Offer, "a refusal followed by an offer of safe help"),
    refusal_form(
        "refuse-no-notice",
        RefusalForm::NoNotice,
        "unsafe text outside a turn deleted, not replaced by a notice",
    ),
    refusal_form("refuse-half", RefusalForm::Half, "half the unsafe answers refused, the other half deleted"),
    refusal_form("refuse-drop-exchange", RefusalForm::DropExchange, "the unsafe answer and its request both deleted"),
    continued(Mode::Tag, "tag-continued", "continued pretraining: the first half on raw, then tag"),
    tag_untagged("tag-untagged0", 0.0, "every segment tagged (the default leaves 1% untagged)"),
    tag_untagged("tag-untagged5", 0.05, "5% of segments untagged"),
    tag_untagged("tag-untagged10", 0.1, "10% of segments untagged"),
    tag_untagged("tag-untagged20", 0.2, "20% of segments untagged"),
    tag_untagged("tag-untagged30", 0.3, "30% of segments untagged"),
    tag_untagged("tag-untagged50", 0.5, "half the segments untagged"),
];

const N_VARIANTS: usize = Mode::ALL.len() + ABLATIONS.len() + BASELINE_TRIALS.len();

/// Every variant the experiment knows, in table order: one per transform mode ([`Mode::ALL`],
/// so a new mode is a new variant without a change here), then the [`ABLATIONS`], then the
/// [`BASELINE_TRIALS`].
pub const VARIANTS: [Variant; N_VARIANTS] = {
    let mut out = [mode_variant(Mode::Raw); N_VARIANTS];
    let mut i = 0;
    while i < Mode::ALL.len() {
        out[i] = mode_variant(Mode::ALL[i]);
        i += 1;
    }
    while i < Mode::ALL.len() + ABLATIONS.len() {
        out[i] = ABLATIONS[i - Mode::ALL.len()];
        i += 1;
    }
    while i < out.len() {
        out[i] = BASELINE_TRIALS[i - Mode::ALL.len() - ABLATIONS.len()];
        i += 1;
    }
    out
};

impl Variant {
    /// An ablation of rsr or a baseline trial: built only when asked for.
    pub fn is_ablation(&self) -> bool {
        !self.summary.is_empty()
    }

    /// The variant of name `name`.
    pub fn named(name: &str) -> Option<&'static Variant> {
        VARIANTS.iter().find(|v| v.name == name)
    }

    /// The corpus it trains on: its own, or its mode's when it changes only how it trains.
    pub fn corpus(&self) -> &'static str {
        if self.training == Training::Budget {
            self.name
        } else {
            self.mode.name()
        }
    }

    /// Whether it trains at budget `budget` (a continued run's switch is a share of a budget
    /// known in advance, so it has no `plateau` run).
    pub fn trains_at(&self, budget: Budget) -> bool {
        match budget {
            Budget::Compute => true,
            // Raw's `passes` run is its `compute` run.
            Budget::Passes => self.mode != Mode::Raw,
            Budget::Plateau => !matches!(self.training, Training::AfterRaw { .. }),
        }
    }

    /// Its transform configuration, from the experiment's.
    pub fn transform(&self, cfg: &ExperimentConfig) -> TransformConfig {
        let base = TransformConfig::default();
        TransformConfig {
            mode: self.mode,
            every: self.every.unwrap_or(cfg.every),
            safe_rate: self.safe_rate.unwrap_or(cfg.safe_rate),
            rationale_rate: cfg.rationale_rate,
            mask: self.mask.unwrap_or(base.mask),
            after_unsafe: self.after_unsafe.unwrap_or(base.after_unsafe),
            tau: self.tau.unwrap_or(base.tau),
            aggregate: self.aggregate.unwrap_or(base.aggregate),
            filter_unit: self.filter_unit.unwrap_or(base.filter_unit),
            untagged: self.untagged.unwrap_or(base.untagged),
            refusal: self.refusal.unwrap_or(base.refusal),
            seed: cfg.seed,
            ..base
        }
    }
}

/// The variants trained and evaluated unless asked otherwise: `refuse` is the rewrite baseline
/// (a request followed by a refusal, as RefuseWeb trains); `rewrite` (the unsafe text replaced by
/// a notice) is still built and can be chosen by name.
pub const DEFAULT_VARIANTS: [&str; 5] = ["raw", "filter", "refuse", "tag", "rsr"];

/// The annotation `noise` writes beside the ground truth.
pub const NOISY: &str = "noisy";

/// Replicate `r` of a world trains with `REPLICATE_STRIDE × r` added to its training seed: the
/// same seeds `--train-seed-offset 1000`, `2000`, … give, so a replicate study and separate
/// offset studies describe the same training runs.
pub const REPLICATE_STRIDE: u64 = 1000;

/// The negative control's run name.
pub const CONTROL_RUN: &str = "raw-control";

/// Every knob of the experiment. `Default` is `rsr demo`'s defaults.
#[derive(Debug, Clone)]
pub struct ExperimentConfig {
    /// Where the world, variants, packs, runs and the report go.
    pub out: PathBuf,
    /// The world's seed (its names, held-out hazards, corpora and packing order).
    pub seed: u64,
    /// Each model's training seed (initialisation, batch order) is `seed + train_seed_offset`: a
    /// replicate of a run on the same world and corpora, for reading how much a result moves
    /// with the training run alone (docs/safetyworld.md, "The spread").
    pub train_seed_offset: u64,
    /// Which training run of this world this is (0: the first): replicate `r` trains every model
    /// with [`REPLICATE_STRIDE`]` × r` added to its training seed, in `OUT/replicate-r/runs/`,
    /// on the same world, corpora and packs (`rsr study --replicates K`).
    pub replicate: u32,
    /// Training documents in the world.
    pub docs: usize,
    /// The world's lessons' weight among its safe documents ([`WorldConfig::lesson_weight`]).
    pub lesson_weight: u32,
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
    /// Sequences per optimizer step (of [`ExperimentConfig::seq_len`] tokens).
    pub batch_size: usize,
    /// Tokens per training sequence (256: the `tiny` preset's context; longer raises the model's
    /// positions to fit, as `rsr train --seq-len` does).
    pub seq_len: usize,
    /// The learning-rate schedule every run trains with: warmup–stable–decay by default (on
    /// calibration seed 100, raw at 4M tokens: validation loss 0.344 against cosine's 0.352, and
    /// 97% of the written benign requests against 76%; docs/safetyworld.md#calibration-on-held-out-seeds).
    pub schedule: Shape,
    /// With `wsd`: the final decay, as a fraction of the steps (the composition rule is learned
    /// there: docs/safetyworld.md, "The spread").
    pub decay: f32,
    /// The peak learning rate of every run.
    pub lr: f32,
    pub preset: String,
    /// Checkpoints per run for the learning curve (1: the final one only).
    pub curve_points: usize,
    /// Prompts per set at each learning-curve and tamper point.
    pub curve_per_set: usize,
    /// The longest answer decoded, in tokens ([`MAX_TOKENS`] by default: a written recipe's
    /// answer fits in about 40). Fewer make a small smoke run quicker — an undertrained model
    /// writes to the limit — and cut the answers the judge reads, so a result at another length
    /// is another measurement (a study records it).
    pub max_tokens: usize,
    /// Fine-tuning steps after which attack success is measured ("0" alone: no attack).
    pub tamper_steps: Vec<u64>,
    /// The variants trained and evaluated (names from [`VARIANTS`]; empty: the defaults). Every
    /// corpus is still built, so the corpus table is whole.
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
    /// Models trained and evaluated at once, each on its share of the worker threads (1: one
    /// after another on all of them; never more at once than there are threads). A small model
    /// uses one core better than two: on the 2-core development machine two 1-thread trainings
    /// take 5–11% more tokens a second together than one 2-thread training (docs/benchmarks.md),
    /// so the default is 2. It changes the time, not the models: a run is the same bits on any
    /// thread count (its manifest records the threads it had).
    pub jobs: usize,
}

/// [`ExperimentConfig::max_tokens`]' default: every result in docs/ was decoded at it.
pub const MAX_TOKENS: usize = 48;
/// The most `--max-tokens` an experiment takes (a `tiny` model's context is 256 tokens).
pub const MAX_TOKENS_CAP: usize = 1024;

impl Default for ExperimentConfig {
    fn default() -> Self {
        Self {
            out: "rsr-demo".into(),
            seed: 0,
            train_seed_offset: 0,
            replicate: 0,
            docs: WorldConfig::default().docs,
            lesson_weight: WorldConfig::default().lesson_weight,
            every: 24,
            safe_rate: 0.5,
            rationale_rate: 0.0,
            vocab_size: 1024,
            train_tokens: 4_000_000,
            batch_size: 8,
            seq_len: rsr_model::train::TrainConfig::default().seq_len,
            schedule: Shape::Wsd,
            decay: rsr_model::train::TrainConfig::default().decay,
            lr: rsr_model::train::TrainConfig::default().lr,
            preset: "tiny".into(),
            curve_points: 4,
            curve_per_set: 30,
            max_tokens: MAX_TOKENS,
            tamper_steps: vec![0, 25, 50, 100],
            variants: vec![],
            control: true,
            budgets: vec![Budget::Compute],
            noise: None,
            samples: 0,
            sample_temperature: 0.7,
            resume: false,
            jobs: 2,
        }
    }
}

impl ExperimentConfig {
    /// What a run's worlds, corpora and models depend on: a directory made with other values
    /// holds results that must not be kept and mixed with new ones (`rsr study`'s `study.json`,
    /// `rsr demo --resume`'s `demo.json`). Seeds, variants, budgets and sampling may change
    /// between runs of one directory: each model is kept or made on its own.
    pub fn fixed(&self) -> serde_json::Value {
        serde_json::json!({
            "docs": self.docs, "lesson_weight": self.lesson_weight, "every": self.every, "safe_rate": self.safe_rate,
            "rationale_rate": self.rationale_rate, "vocab_size": self.vocab_size, "train_tokens": self.train_tokens,
            "batch_size": self.batch_size, "seq_len": self.seq_len, "schedule": self.schedule.name(), "decay": self.decay,
            "lr": self.lr, "train_seed_offset": self.train_seed_offset, "preset": self.preset, "labels": self.labels(),
            "noise": self.noise, "max_tokens": self.max_tokens,
        })
    }

    /// The annotation every variant is built from: `ground_truth`, or `noisy` with `noise`.
    pub fn labels(&self) -> &'static str {
        if self.noise.is_some() {
            NOISY
        } else {
            rsr_world::write::GROUND_TRUTH
        }
    }

    /// The training seed of every model of this world and replicate.
    pub fn train_seed(&self) -> u64 {
        self.seed.wrapping_add(self.train_seed_offset).wrapping_add(REPLICATE_STRIDE * u64::from(self.replicate))
    }

    /// The world this experiment generates: the default world with its knobs (`--docs`,
    /// `--lesson-weight`) applied. The negative control's world is this one with the held-out
    /// facts deleted.
    pub fn world_config(&self) -> WorldConfig {
        WorldConfig { docs: self.docs, lesson_weight: self.lesson_weight, ..WorldConfig::default() }
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
        self.replicate_dir().join("runs").join(name)
    }
    /// Where this replicate's runs and report go: `OUT` for the first, `OUT/replicate-r` after.
    pub fn replicate_dir(&self) -> PathBuf {
        match self.replicate {
            0 => self.out.clone(),
            r => self.out.join(format!("replicate-{r}")),
        }
    }
    /// The negative-control world: the same world with the held-out facts deleted.
    pub fn control_dir(&self) -> PathBuf {
        self.out.join("control")
    }
    /// Every (variant, budget) run this experiment trains, in the order it trains them (raw's
    /// `passes` run is its `compute` run, so it is not listed twice).
    pub fn trained_runs(&self) -> Vec<(&'static Variant, Budget)> {
        let mut out = Vec::new();
        for &budget in self.budgets() {
            out.extend(VARIANTS.iter().filter(|v| self.selected(v.name) && v.trains_at(budget)).map(|v| (v, budget)));
        }
        out
    }
    /// The file that marks run `name` finished (kept by [`ExperimentConfig::resume`]).
    pub fn summary_path(&self, name: &str) -> PathBuf {
        self.run_dir(name).join("summary.json")
    }
    /// The file that marks the negative control finished.
    pub fn control_result_path(&self) -> PathBuf {
        self.control_dir().join("result.json")
    }
    /// Every model this experiment trains, in the order it trains them, as the file that marks
    /// it finished: each [`ExperimentConfig::trained_runs`]'s summary, then the negative
    /// control's result when it has one. What [`ExperimentConfig::resume`] keeps is what exists.
    pub fn planned_models(&self) -> Vec<PathBuf> {
        let mut out: Vec<PathBuf> =
            self.trained_runs().into_iter().map(|(v, b)| self.summary_path(&b.run_name(v.name))).collect();
        if self.control {
            out.push(self.control_result_path());
        }
        out
    }
    /// The budgets run (equal compute when none is given).
    pub fn budgets(&self) -> &[Budget] {
        if self.budgets.is_empty() {
            &[Budget::Compute]
        } else {
            &self.budgets
        }
    }
    /// Whether variant `name` is trained and evaluated.
    pub fn selected(&self, name: &str) -> bool {
        if self.variants.is_empty() {
            DEFAULT_VARIANTS.contains(&name)
        } else {
            self.variants.iter().any(|v| v == name)
        }
    }
    /// The variants trained and evaluated, in table order.
    pub fn trained_variants(&self) -> Vec<&'static str> {
        VARIANTS.iter().map(|v| v.name).filter(|n| self.selected(n)).collect()
    }
    /// The variants whose corpora are built: every transform mode (so the corpus table is
    /// whole), and the ablations asked for that have a corpus of their own.
    pub fn built_variants(&self) -> Vec<&'static Variant> {
        VARIANTS.iter().filter(|v| !v.is_ablation() || (self.selected(v.name) && v.corpus() == v.name)).collect()
    }
    /// Reject a variant name that is not one of [`VARIANTS`].
    pub fn validate(&self) -> Result<()> {
        // The recipe's knobs are checked where the trainer checks them; a study's rate must
        // also be above 0 (a run that cannot learn compares nothing).
        let recipe = rsr_model::train::TrainConfig {
            batch_size: self.batch_size,
            seq_len: self.seq_len,
            decay: self.decay,
            lr: self.lr,
            preset: self.preset.clone(),
            ..Default::default()
        };
        recipe.validate().map_err(rsr_core::Error::Invalid)?;
        if self.lr <= 0.0 {
            return Err(rsr_core::Error::Invalid(format!("--lr must be a positive number; got {}", self.lr)));
        }
        if !(1..=MAX_TOKENS_CAP).contains(&self.max_tokens) {
            return Err(rsr_core::Error::Invalid(format!(
                "--max-tokens must be between 1 and {MAX_TOKENS_CAP} (default {MAX_TOKENS}); got {}",
                self.max_tokens
            )));
        }
        if self.jobs == 0 {
            return Err(rsr_core::Error::Invalid("--jobs must be at least 1 (models trained at once)".into()));
        }
        self.world_config()
            .validate()
            .map_err(|e| rsr_core::Error::Invalid(format!("the world: {e} (--docs, --lesson-weight)")))?;
        for v in &self.variants {
            if Variant::named(v).is_none() {
                let names: Vec<_> = VARIANTS.iter().map(|v| v.name).collect();
                return Err(rsr_core::Error::Invalid(format!(
                    "unknown variant `{v}`: choose from {}",
                    names.join(", ")
                )));
            }
        }
        Ok(())
    }

    /// What a report says of the answers' length, after "greedy decoding": nothing at the
    /// default ([`MAX_TOKENS`]), which every figure in the docs was decoded at.
    pub fn answer_length(&self) -> String {
        match self.max_tokens {
            MAX_TOKENS => String::new(),
            n => format!(" of answers up to {n} tokens (not the default {MAX_TOKENS})"),
        }
    }

    /// How a variant decodes: reflections with the `stop` policy at its training cadence for
    /// rsr (and its ablations), conditioned on `<|safe|>` for tag, plainly for the rest; greedy.
    pub fn decoding(&self, v: &Variant) -> GenConfig {
        GenConfig {
            max_tokens: self.max_tokens,
            sampling: SamplingConfig { temperature: 0.0, top_k: 0, top_p: 1.0 },
            stop: vec![rsr_core::chat::STOP.into()],
            policy: if v.mode == Mode::Rsr { Policy::Stop } else { Policy::Off },
            every: v.every.unwrap_or(self.every),
            conditioning: if v.mode == Mode::Tag { Conditioning::Tag } else { Conditioning::Plain },
            ..GenConfig::default()
        }
    }
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
        assert_eq!(Budget::parse("plateau"), Ok(Budget::Plateau));
        assert_eq!(Budget::Plateau.tokens(4_000_000, 0.63), 8_000_000, "the cap");
        assert_eq!(Budget::Plateau.run_name("raw"), "raw@plateau");
        assert!(Budget::parse("flops").unwrap_err().contains("compute"));
    }

    #[test]
    fn the_default_variants_are_refuse_not_rewrite_and_every_mode_is_a_variant() {
        let cfg = ExperimentConfig::default();
        assert_eq!(cfg.trained_variants(), DEFAULT_VARIANTS);
        assert!(!cfg.selected("rewrite"));
        let named = ExperimentConfig { variants: vec!["rewrite".into()], ..cfg.clone() };
        assert!(named.selected("rewrite") && !named.selected("rsr"));
        assert!(ExperimentConfig { variants: vec!["rewritten".into()], ..cfg.clone() }.validate().is_err());
        let err = ExperimentConfig { decay: 1.5, ..cfg.clone() }.validate().unwrap_err().to_string();
        assert!(err.contains("--decay"), "{err}");
        assert!(ExperimentConfig { decay: f32::NAN, ..cfg.clone() }.validate().is_err(), "a NaN decay fails closed");
        assert!(ExperimentConfig { lr: f32::INFINITY, ..cfg.clone() }.validate().is_err());
        assert!(ExperimentConfig { lr: 0.0, ..cfg.clone() }.validate().is_err());
        // A shape that cannot be built is refused before any world or corpus is made.
        let err = ExperimentConfig { preset: "tiny,heads=5".into(), ..cfg.clone() }.validate().unwrap_err().to_string();
        assert!(err.contains("--preset") && err.contains("heads"), "{err}");
        assert!(ExperimentConfig { preset: "tiny,heads=8".into(), ..cfg.clone() }.validate().is_ok());
        // A sequence length or batch of 0 trains nothing: refused naming the flag.
        for (bad, flag) in [
            (ExperimentConfig { seq_len: 0, ..cfg.clone() }, "--seq-len"),
            (ExperimentConfig { batch_size: 0, ..cfg.clone() }, "--batch-size"),
        ] {
            let err = bad.validate().unwrap_err().to_string();
            assert!(err.contains(flag), "{err}");
        }
        assert!(ExperimentConfig { seq_len: 128, batch_size: 16, ..cfg }.validate().is_ok());
    }

    #[test]
    fn each_ablation_changes_one_knob_of_the_default_rsr() {
        let cfg = ExperimentConfig::default();
        let fields = |t: &TransformConfig| serde_json::to_value(t).unwrap().as_object().unwrap().clone();
        // Each ablation changes one thing from the default rsr, each baseline trial one thing from
        // its baseline's default (filter's threshold and aggregation are one rule); a variant that
        // changes only how it trains trains on its mode's corpus, which is built anyway; none is
        // built unless asked for.
        let ablations = ABLATIONS.iter().map(|a| (a, true));
        for (v, of_rsr) in ablations.chain(BASELINE_TRIALS.iter().map(|v| (v, false))) {
            assert!(v.is_ablation() && (v.mode == Mode::Rsr) == of_rsr, "{}", v.name);
            let base = Variant::named(v.mode.name()).unwrap().transform(&cfg);
            let t = v.transform(&cfg);
            t.validate().unwrap();
            let mut changed: Vec<String> = fields(&t)
                .into_iter()
                .filter(|(k, v)| fields(&base).get(k) != Some(v))
                .map(|(k, _)| if k == "tau" || k == "aggregate" { "filter rule".into() } else { k })
                .collect();
            changed.dedup();
            if v.training != Training::Budget {
                changed.push("training".into());
                assert_eq!(v.corpus(), v.mode.name());
            }
            assert_eq!(changed.len(), 1, "{} changes {changed:?}", v.name);
            assert!(cfg.built_variants().iter().all(|b| b.name != v.name));
        }
        let mean = Variant::named("filter-mean60").unwrap().transform(&cfg);
        assert_eq!((mean.tau, mean.aggregate), (0.6, Aggregate::Mean));
        assert_eq!(Variant::named("tag-untagged0").unwrap().transform(&cfg).untagged, 0.0);
        let continued = Variant::named("rsr-continued").unwrap();
        assert!(continued.trains_at(Budget::Compute) && !continued.trains_at(Budget::Plateau));
        let asked = ExperimentConfig { variants: vec!["rsr-equal-trained".into()], ..cfg.clone() };
        assert!(asked.built_variants().iter().all(|v| v.name != "rsr-equal-trained"));
        // Ablations are built only when asked for; the modes always are.
        assert!(cfg.built_variants().iter().all(|v| !v.is_ablation()));
        let asked = ExperimentConfig { variants: vec!["rsr".into(), "rsr-nomask".into()], ..cfg.clone() };
        assert!(asked.built_variants().iter().any(|v| v.name == "rsr-nomask"));
        asked.validate().unwrap();
        // The cadence ablation decodes at its own cadence.
        let every64 = Variant::named("rsr-every64").unwrap();
        assert_eq!(cfg.decoding(every64).every, 64);
        assert_eq!(cfg.decoding(Variant::named("rsr").unwrap()).every, cfg.every);
    }

    #[test]
    fn every_variant_decodes_to_the_experiments_answer_length() {
        let cfg = ExperimentConfig::default();
        assert_eq!(cfg.max_tokens, MAX_TOKENS);
        let short = ExperimentConfig { max_tokens: 16, ..cfg.clone() };
        short.validate().unwrap();
        assert!(VARIANTS.iter().all(|v| short.decoding(v).max_tokens == 16 && cfg.decoding(v).max_tokens == 48));
        assert_eq!((cfg.answer_length(), short.answer_length().contains("up to 16 tokens")), (String::new(), true));
        for bad in [0, MAX_TOKENS_CAP + 1] {
            let err = ExperimentConfig { max_tokens: bad, ..cfg.clone() }.validate().unwrap_err().to_string();
            assert!(err.contains("--max-tokens"), "{err}");
        }
    }
}
