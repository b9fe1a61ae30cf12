//! The experiment's knobs and where everything it writes lives.

use rsr_core::Result;
use rsr_corpus::transform::Mode;
use rsr_decode::generate::{Conditioning, GenConfig, Policy};
use rsr_decode::sample::SamplingConfig;
use rsr_world::WorldConfig;
use std::path::PathBuf;

use crate::results::Budget;

/// Every variant the experiment builds, in table order: one per transform mode
/// ([`Mode::ALL`]), so a new mode is a new variant without a change here.
pub const VARIANTS: [(&str, Mode); Mode::ALL.len()] = {
    let mut out = [("", Mode::Raw); Mode::ALL.len()];
    let mut i = 0;
    while i < out.len() {
        out[i] = (Mode::ALL[i].name(), Mode::ALL[i]);
        i += 1;
    }
    out
};

/// The variants trained and evaluated unless asked otherwise: `refuse` is the rewrite baseline
/// (a request followed by a refusal, as RefuseWeb trains); `rewrite` (the unsafe text replaced by
/// a notice) is still built and can be chosen by name.
pub const DEFAULT_VARIANTS: [&str; 5] = ["raw", "filter", "refuse", "tag", "rsr"];

/// The annotation `noise` writes beside the ground truth.
pub const NOISY: &str = "noisy";

/// The negative control's run name.
pub const CONTROL_RUN: &str = "raw-control";

/// Every knob of the experiment. `Default` is `rsr demo`'s defaults.
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
}

impl Default for ExperimentConfig {
    fn default() -> Self {
        Self {
            out: "rsr-demo".into(),
            seed: 0,
            docs: WorldConfig::default().docs,
            every: 24,
            safe_rate: 0.5,
            rationale_rate: 0.0,
            vocab_size: 1024,
            train_tokens: 4_000_000,
            batch_size: 8,
            preset: "tiny".into(),
            curve_points: 4,
            curve_per_set: 30,
            tamper_steps: vec![0, 25, 50, 100],
            variants: vec![],
            control: true,
            budgets: vec![Budget::Compute],
            noise: None,
            samples: 0,
            sample_temperature: 0.7,
            resume: false,
        }
    }
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
        VARIANTS.iter().map(|(n, _)| *n).filter(|n| self.selected(n)).collect()
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
        let cfg = ExperimentConfig::default();
        assert_eq!(cfg.trained_variants(), DEFAULT_VARIANTS);
        assert!(!cfg.selected("rewrite"));
        let named = ExperimentConfig { variants: vec!["rewrite".into()], ..cfg.clone() };
        assert!(named.selected("rewrite") && !named.selected("rsr"));
        assert!(ExperimentConfig { variants: vec!["rewritten".into()], ..cfg }.validate().is_err());
    }
}
