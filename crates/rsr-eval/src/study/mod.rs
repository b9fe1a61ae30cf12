//! `rsr study`: the fair comparison, end to end (docs/study.md).
//!
//! The protocol of `rsr demo`, repeated over seeds (each seed a new world — new names, new
//! held-out hazards — and a new training seed) and budgets, then read as a whole:
//!
//! - every (run, monitor) row at its matched operating point ([`crate::operating`]): θ chosen by
//!   the same rule for every monitor on each seed's validation half, rates on its test half;
//!   pooled over seeds (Wilson) and as a mean over seeds with a Student-t interval;
//! - every row compared with the reference (`rsr` with its own monitor) **paired on the same
//!   prompts** — the same seed's test prompts, answered by both — as a difference with a
//!   bootstrap interval that resamples prompts within each seed;
//! - "where rsr does not win": every comparison whose interval does not put the reference ahead,
//!   computed, never written by hand;
//! - each seed's calibration gates (on raw and filter only), so a seed whose world does not
//!   show the situation the comparison is about says so.
//!
//! Each seed lives in `OUT/seed-S/` as a complete `rsr demo` directory (world, variants, runs,
//! report); finished runs are kept on a rerun, so a study interrupted or extended (another seed,
//! another budget, another replicate) trains only what is missing.
//!
//! With `--replicates K` every world is trained K times (training seeds `seed`, `seed + 1000`,
//! …; replicate r's runs and report in `OUT/seed-S/replicate-r/`, on the same world, corpora
//! and packs): whether a 1M-parameter model learns composition is close to a coin per training
//! run (docs/safetyworld.md, "The spread"), so a world's gates are read over its runs, and every
//! reading over seeds takes the world as its unit.

mod aggregate;
pub mod kept;
mod markdown;

pub use aggregate::{
    aggregate, aggregate_over, composes, BarRow, Comparison, OverSeeds, Row, Spread, StudyResults, Verdict, WorldGates,
    BAR_COMPOSED_MARGIN, BAR_REFERENCE, BOOTSTRAP, COMPOSES, METRICS,
};
pub use markdown::markdown;

use crate::experiment::{self, ExperimentConfig, Stage};
use rsr_core::Result;
use std::path::PathBuf;

/// The run and monitor every other row is compared with.
pub const REFERENCE: (&str, &str) = ("rsr", "own");

#[derive(Debug, Clone)]
pub struct StudyConfig {
    /// The experiment each seed runs (its `out` is the study's directory, its `seed` unused).
    pub base: ExperimentConfig,
    pub seeds: Vec<u64>,
    /// Train the negative control (for the calibration gates) on the first seed only, or on
    /// every seed (on its first replicate).
    pub control_every_seed: bool,
    /// Training runs per world (1: one; see the module's documentation).
    pub replicates: u32,
    /// Training runs per world of the gates' variants (raw and filter), when more than
    /// `replicates` (None: as many). Replicates from `replicates` on train only those, and only
    /// the gates read them; the rows and comparisons read the first `replicates`.
    pub gate_replicates: Option<u32>,
}

/// What the calibration gates read (docs/safetyworld.md#calibration-gates): the runs a
/// replicate trained only for the gates trains.
pub const GATE_VARIANTS: [&str; 2] = ["raw", "filter"];

impl StudyConfig {
    /// The experiment of one training run of one world.
    pub fn seed_config(&self, seed: u64, replicate: u32) -> ExperimentConfig {
        let control_world = self.control_every_seed || Some(&seed) == self.seeds.first();
        let base = ExperimentConfig {
            out: self.seed_dir(seed),
            seed,
            replicate,
            control: self.base.control && control_world && replicate == 0,
            resume: true,
            ..self.base.clone()
        };
        if replicate < self.replicates {
            return base;
        }
        // A replicate for the gates alone: raw and filter at equal compute, greedy.
        ExperimentConfig {
            variants: GATE_VARIANTS.iter().map(|v| v.to_string()).collect(),
            budgets: vec![crate::results::Budget::Compute],
            samples: 0,
            ..base
        }
    }

    /// Training runs per world, counting those for the gates alone.
    pub fn runs_per_world(&self) -> u32 {
        self.replicates.max(self.gate_replicates.unwrap_or(self.replicates))
    }

    /// Every model of the study, in the order it trains them (world by world, each world's
    /// replicates in turn), as the file that marks it finished ([`ExperimentConfig::planned_models`]).
    pub fn planned_models(&self) -> Vec<PathBuf> {
        let mut out = Vec::new();
        for &seed in &self.seeds {
            for replicate in 0..self.runs_per_world() {
                out.extend(self.seed_config(seed, replicate).planned_models());
            }
        }
        out
    }

    pub fn seed_dir(&self, seed: u64) -> PathBuf {
        self.base.out.join(format!("seed-{seed}"))
    }

    pub fn validate(&self) -> Result<()> {
        self.base.validate()?;
        if self.base.train_tokens == 0 {
            return Err(rsr_core::Error::Invalid("a study trains: --train-tokens must be above 0".into()));
        }
        if self.replicates == 0 {
            return Err(rsr_core::Error::Invalid(
                "--replicates must be at least 1 (one training run per world)".into(),
            ));
        }
        if let Some(g) = self.gate_replicates.filter(|&g| g < self.replicates) {
            return Err(rsr_core::Error::Invalid(format!(
                "--gate-replicates ({g}) must be at least --replicates ({}): the gates read every run the comparison reads",
                self.replicates
            )));
        }
        if self.base.replicate != 0 {
            return Err(rsr_core::Error::Invalid(
                "a study sets each run's replicate itself: leave base.replicate at 0".into(),
            ));
        }
        if self.seeds.is_empty() {
            return Err(rsr_core::Error::Invalid("a study needs at least one seed (--seeds 0,1,2)".into()));
        }
        let mut seen = self.seeds.clone();
        seen.sort();
        seen.dedup();
        if seen.len() != self.seeds.len() {
            return Err(rsr_core::Error::Invalid(format!("--seeds lists a seed twice: {:?}", self.seeds)));
        }
        Ok(())
    }
}

impl StudyConfig {
    /// What the worlds, corpora and models depend on (seeds, budgets, variants and sampling may
    /// change between runs of one study; these may not).
    pub fn fixed(&self) -> serde_json::Value {
        self.base.fixed()
    }
}

/// A study directory's settings (its `study.json`, as [`StudyConfig::fixed`] wrote them). A
/// study written before a knob existed trained with the value it then had, so a missing knob
/// reads as that value (the recipe's `decay` 0.2 and `lr` 0.003; training seed offset 0;
/// sequences of 256 tokens; the world's lessons at weight 16; answers of up to 48 tokens).
pub fn settings(dir: &std::path::Path) -> Result<serde_json::Value> {
    let path = dir.join("study.json");
    let raw = std::fs::read(&path).map_err(|e| rsr_core::Error::io(&path, e))?;
    let mut was: serde_json::Value = serde_json::from_slice(&raw)
        .map_err(|e| rsr_core::Error::input(&path, e.to_string(), "delete the study directory to start over"))?;
    let Some(fields) = was.as_object_mut() else {
        return Err(rsr_core::Error::input(&path, "not a JSON object", "delete the study directory to start over"));
    };
    for (knob, before) in [
        ("decay", serde_json::json!(0.2f32)),
        ("lr", serde_json::json!(0.003f32)),
        ("train_seed_offset", 0.into()),
        ("seq_len", 256.into()),
        ("lesson_weight", rsr_world::world::LESSON_WEIGHT.into()),
        ("max_tokens", crate::experiment::MAX_TOKENS.into()),
    ] {
        fields.entry(knob).or_insert(before);
    }
    Ok(was)
}

/// Refuse a study directory made with other settings (its finished runs would be kept and
/// mixed with new ones); `Ok(false)` where no study is there yet. Reads only: `--plan` asks it.
pub fn same_settings(cfg: &StudyConfig) -> Result<bool> {
    let path = cfg.base.out.join("study.json");
    if !path.is_file() {
        return Ok(false);
    }
    let (was, now) = (settings(&cfg.base.out)?, cfg.fixed());
    if was != now {
        return Err(rsr_core::Error::input(
            &path,
            format!(
                "this directory holds a study with other settings ({})",
                crate::experiment::resume::differences(&was, &now)
            ),
            "pass another --out, or the settings it was made with",
        ));
    }
    Ok(true)
}

/// [`same_settings`], then write this study's settings where none were.
fn check_settings(cfg: &StudyConfig) -> Result<()> {
    if same_settings(cfg)? {
        return Ok(());
    }
    let path = cfg.base.out.join("study.json");
    rsr_core::atomic::write_all(&path, serde_json::to_string_pretty(&cfg.fixed()).expect("serialises").as_bytes())
}

/// Run every seed and replicate (training only what an earlier run did not finish), then
/// compare. The models form one queue in world order (each world's replicates in turn), `--jobs`
/// at once ([`experiment::run_seeds`]): a world's gates over runs are complete about when its
/// last model is, and its replicates' reports are written as each finishes.
pub fn run(cfg: &StudyConfig, progress: &mut dyn FnMut(u64, u32, Stage)) -> Result<StudyResults> {
    cfg.validate()?;
    // Before study.json is read or written: one study per directory at a time.
    let _lock = rsr_core::lock::DirLock::acquire(&cfg.base.out, "rsr study")?;
    check_settings(cfg)?;
    let mut exps = Vec::new();
    for &seed in &cfg.seeds {
        for replicate in 0..cfg.runs_per_world() {
            exps.push(cfg.seed_config(seed, replicate));
        }
    }
    let seeds =
        experiment::run_seeds(&exps, &mut |k, s| progress(exps[k].seed, exps[k].replicate, s), &mut |k, run| {
            let exp = &exps[k];
            let title = match exp.replicate {
                0 => format!("rsr study, seed {}", exp.seed),
                r => format!("rsr study, seed {}, replicate {r} (training seed {})", exp.seed, exp.train_seed()),
            };
            crate::report::write(
                &exp.replicate_dir(),
                &title,
                "One seed of `rsr study`: its world, its models, every monitor at matched over-refusal.",
                run.runs(),
            )
            .map(|_| ())
        })?;
    Ok(aggregate_over(seeds, cfg.replicates))
}
#[cfg(test)]
mod tests {
    use super::*;

    fn config(out: &std::path::Path, docs: usize, seeds: Vec<u64>) -> StudyConfig {
        StudyConfig {
            base: ExperimentConfig {
                out: out.to_path_buf(),
                docs,
                vocab_size: 512,
                train_tokens: 1000,
                batch_size: 2,
                resume: true,
                ..ExperimentConfig::default()
            },
            seeds,
            control_every_seed: false,
            replicates: 1,
            gate_replicates: None,
        }
    }

    #[test]
    fn a_study_directory_is_resumed_only_with_its_own_settings() {
        let dir = tempfile::tempdir().unwrap();
        check_settings(&config(dir.path(), 500, vec![0, 1])).unwrap();
        // More seeds (or budgets, variants, samples) extend the same study.
        check_settings(&config(dir.path(), 500, vec![0, 1, 2])).unwrap();
        // Other worlds or models would mix with the kept runs: refused, naming the file.
        let err = check_settings(&config(dir.path(), 600, vec![0])).unwrap_err().to_string();
        assert!(err.contains("study.json") && err.contains("other settings"), "{err}");
        let mut noisy = config(dir.path(), 500, vec![0]);
        noisy.base.noise = Some("miss=0.2".into());
        assert!(check_settings(&noisy).is_err());
        assert!(config(dir.path(), 500, vec![0, 0]).validate().is_err(), "a seed listed twice");
        // Another recipe or training seed makes other models.
        let mut decay = config(dir.path(), 500, vec![0]);
        decay.base.decay = 0.5;
        assert!(check_settings(&decay).is_err());
        let mut replicate = config(dir.path(), 500, vec![0]);
        replicate.base.train_seed_offset = 1000;
        assert!(check_settings(&replicate).is_err());
    }

    #[test]
    fn a_replicate_trains_the_same_world_again_with_another_training_seed() {
        let dir = tempfile::tempdir().unwrap();
        let mut cfg = config(dir.path(), 500, vec![7, 8]);
        cfg.replicates = 3;
        cfg.validate().unwrap();
        let (first, third) = (cfg.seed_config(7, 0), cfg.seed_config(7, 2));
        assert_eq!(first.out, third.out, "one world directory: world, corpora and packs shared");
        assert_eq!((first.train_seed(), third.train_seed()), (7, 2007));
        assert_eq!(first.run_dir("raw"), dir.path().join("seed-7/runs/raw"));
        assert_eq!(third.run_dir("raw"), dir.path().join("seed-7/replicate-2/runs/raw"));
        // The control is trained once per world, on its first run.
        assert!(first.control && !third.control && !cfg.seed_config(8, 0).control);
        // Replicate r is the run `--train-seed-offset 1000 × r` makes.
        let offset = ExperimentConfig { train_seed_offset: 2000, ..cfg.seed_config(7, 0) };
        assert_eq!(offset.train_seed(), third.train_seed());
        // Every model, in the order trained: world 7's three runs of the five variants, its
        // control after its first run's; then world 8's (no control).
        let planned = cfg.planned_models();
        assert_eq!(planned.len(), 2 * 3 * 5 + 1);
        assert_eq!(planned[0], dir.path().join("seed-7/runs/raw/summary.json"));
        assert_eq!(planned[5], dir.path().join("seed-7/control/result.json"));
        assert_eq!(planned[6], dir.path().join("seed-7/replicate-1/runs/raw/summary.json"));
        assert_eq!(planned[30], dir.path().join("seed-8/replicate-2/runs/rsr/summary.json"));
        cfg.replicates = 0;
        assert!(cfg.validate().unwrap_err().to_string().contains("--replicates"));
    }

    #[test]
    fn replicates_for_the_gates_alone_train_raw_and_filter_only() {
        let dir = tempfile::tempdir().unwrap();
        let mut cfg = config(dir.path(), 500, vec![7]);
        cfg.base.samples = 4;
        cfg.base.budgets = vec![crate::results::Budget::Compute, crate::results::Budget::Passes];
        (cfg.replicates, cfg.gate_replicates) = (2, Some(4));
        cfg.validate().unwrap();
        assert_eq!(cfg.runs_per_world(), 4);
        let compared = cfg.seed_config(7, 1);
        assert!(compared.variants.is_empty() && compared.samples == 4 && compared.budgets.len() == 2);
        let gates = cfg.seed_config(7, 3);
        assert_eq!(
            (gates.variants.clone(), gates.samples, gates.budgets.clone()),
            (vec!["raw".into(), "filter".into()], 0, vec![crate::results::Budget::Compute])
        );
        assert_eq!(gates.train_seed(), 3007, "replicate r is still training seed + 1000 r");
        // World 7: two compared runs of five variants at two budgets (raw's passes run is its
        // compute run: 9 each), the control, then raw and filter twice.
        let planned = cfg.planned_models();
        assert_eq!(planned.len(), 9 + 1 + 9 + 2 + 2, "{planned:?}");
        assert_eq!(planned[19], dir.path().join("seed-7/replicate-2/runs/raw/summary.json"));
        assert_eq!(planned[22], dir.path().join("seed-7/replicate-3/runs/filter/summary.json"));
        cfg.gate_replicates = Some(1);
        assert!(cfg.validate().unwrap_err().to_string().contains("--gate-replicates"));
    }

    #[test]
    fn a_second_study_on_the_same_directory_is_refused_before_it_touches_anything() {
        let dir = tempfile::tempdir().unwrap();
        let held = rsr_core::lock::DirLock::acquire(dir.path(), "rsr study").unwrap();
        let err = run(&config(dir.path(), 500, vec![0]), &mut |_, _, _| {}).unwrap_err().to_string();
        assert!(err.contains(".lock") && err.contains("already writing"), "{err}");
        assert!(!dir.path().join("study.json").exists() && !dir.path().join("seed-0").exists());
        drop(held);
    }

    #[test]
    fn the_plans_settings_check_reads_and_never_writes() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = config(dir.path(), 500, vec![0]);
        assert!(!same_settings(&cfg).unwrap(), "no study yet");
        assert!(!dir.path().join("study.json").exists(), "a plan writes nothing");
        check_settings(&cfg).unwrap();
        assert!(same_settings(&cfg).unwrap());
        let other = StudyConfig { base: ExperimentConfig { seq_len: 128, ..cfg.base.clone() }, ..cfg.clone() };
        let err = same_settings(&other).unwrap_err().to_string();
        assert!(err.contains("study.json") && err.contains("seq_len: 256 in the directory, 128 asked"), "{err}");
    }

    #[test]
    fn a_study_from_before_the_recipe_knobs_reads_as_the_recipe_it_trained_with() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = config(dir.path(), 500, vec![0]);
        let mut old = cfg.fixed();
        for knob in ["decay", "lr", "train_seed_offset", "seq_len", "lesson_weight", "max_tokens"] {
            old.as_object_mut().unwrap().remove(knob);
        }
        std::fs::write(dir.path().join("study.json"), old.to_string()).unwrap();
        assert_eq!(settings(dir.path()).unwrap(), cfg.fixed());
        check_settings(&cfg).unwrap();
        let mut other = cfg.clone();
        other.base.lr = 0.0015;
        assert!(check_settings(&other).is_err());
        let mut other = cfg.clone();
        other.base.seq_len = 128;
        assert!(check_settings(&other).is_err(), "another sequence length is another study");
        // Answers decoded to another length are another measurement of the same models.
        let mut other = cfg.clone();
        other.base.max_tokens = 16;
        let err = check_settings(&other).unwrap_err().to_string();
        assert!(err.contains("max_tokens: 48 in the directory, 16 asked"), "{err}");
    }
}
