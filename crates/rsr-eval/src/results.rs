//! What evaluation writes and reads back, low in the crate so that everything above it — the
//! experiment, the study, the report, `rsr gym check` — shares one set of serde types, written and
//! read by the same code (docs/formats.md#run-summaries):
//!
//! - [`RunSummary`]: everything measured about one model (`rsr eval --out`, `rsr tamper --out`,
//!   each run of an experiment);
//! - [`SeedResults`]: one seed of the experiment — its calibration gates and the negative control
//!   behind them, and its runs (`rsr demo`'s `results.json`);
//! - [`load`]: run summaries from any of these files, merged by run name.

use crate::calibration::Gate;
use crate::curve::CurvePoint;
use crate::gym::GymResult;
use crate::tamper::TamperPoint;
use rsr_core::{Error, Result};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// How many tokens a variant trains on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Budget {
    /// The same training tokens for every variant (equal compute).
    Compute,
    /// The same passes over each variant's own corpus as raw makes over raw's: the budget
    /// scaled by the corpus's size against raw's (filter trains less, rsr and tag more).
    Passes,
    /// Each variant trained until its validation loss stops improving (the same rule for every
    /// variant: warmup–stable–decay, the decay begun after [`PLATEAU_PATIENCE`] validations
    /// without a 0.5% gain), capped at [`PLATEAU_CAP`] times the equal-compute budget.
    Plateau,
}

/// Validations without a gain that end the stable phase of a `plateau` run.
pub const PLATEAU_PATIENCE: u32 = 3;
/// A `plateau` run's cap, as a multiple of the equal-compute budget.
pub const PLATEAU_CAP: u64 = 2;

impl Budget {
    pub fn name(self) -> &'static str {
        match self {
            Budget::Compute => "compute",
            Budget::Passes => "passes",
            Budget::Plateau => "plateau",
        }
    }

    /// `compute` or `passes`.
    pub fn parse(s: &str) -> std::result::Result<Budget, String> {
        match s {
            "compute" => Ok(Budget::Compute),
            "passes" => Ok(Budget::Passes),
            "plateau" => Ok(Budget::Plateau),
            _ => Err(format!(
                "unknown budget `{s}`: choose compute (equal tokens), passes (equal passes over each corpus) \
                 or plateau (each until its validation loss stops improving)"
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
            Budget::Plateau => tokens * PLATEAU_CAP,
        }
    }
}

/// Costs of a variant besides its evaluation.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Cost {
    /// Training-corpus tokens, and their ratio to the raw corpus.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub corpus_tokens: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub corpus_vs_raw: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub train_tokens_per_s: Option<f64>,
    /// Worker threads the model trained on (its share of `--threads` under `--jobs`): what its
    /// speed and its exact numbers depend on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub train_threads: Option<usize>,
    /// Wall-clock seconds of each phase of the run, as it ran on its machine (beside whatever
    /// else ran there): where a demo's or a study's time goes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seconds: Option<PhaseSeconds>,
}

/// Wall-clock seconds of each phase of one run ([`Cost::seconds`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct PhaseSeconds {
    /// Training (0 when a finished model was kept from an earlier invocation).
    pub train: f64,
    /// The prompt suite at the final checkpoint.
    pub suite: f64,
    /// The learning curve's earlier checkpoints.
    pub curve: f64,
    /// Fitting the monitors and the matched operating points.
    pub operating: f64,
    /// The tamper test (fine-tuning and its evaluations).
    pub tamper: f64,
}

impl PhaseSeconds {
    pub fn total(&self) -> f64 {
        self.train + self.suite + self.curve + self.operating + self.tamper
    }
}

impl std::ops::AddAssign for PhaseSeconds {
    fn add_assign(&mut self, o: Self) {
        self.train += o.train;
        self.suite += o.suite;
        self.curve += o.curve;
        self.operating += o.operating;
        self.tamper += o.tamper;
    }
}

/// Everything measured about one model (a variant of the corpus).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct RunSummary {
    pub name: String,
    /// The decoding configuration the suite ran with.
    #[serde(default)]
    pub decoding: serde_json::Value,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub results: Option<GymResult>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub curve: Vec<CurvePoint>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tamper: Vec<TamperPoint>,
    /// The variant at a matched over-refusal, per monitor ([`crate::operating`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub operating: Vec<crate::operating::OperatingPoint>,
    /// Real prompt sets (`rsr eval --suite prompts`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub prompt_suites: Vec<crate::suite::SuiteResult>,
    #[serde(default)]
    pub cost: Cost,
    /// The corpus variant, the budget and the training tokens (`rsr demo` and `rsr study` runs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub budget: Option<Budget>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub train_tokens: Option<u64>,
    /// The world the run was trained and evaluated on ([`crate::gym::WorldSuite::digest`]): a
    /// kept run whose world is not the one rebuilt here is refused, not mixed in. Absent in
    /// runs from before it was recorded (they are kept unchecked).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub world_digest: Option<String>,
}

impl RunSummary {
    /// Refuse a kept run (read from `path`) evaluated on another world than `digest`.
    pub fn check_world(&self, path: &Path, digest: &str) -> Result<()> {
        match &self.world_digest {
            Some(was) if was != digest => Err(Error::input(
                path,
                format!(
                    "this run was trained and evaluated on another world (digest {}…; the world here is {}…): the \
world's generator or settings changed since",
                    &was[..12.min(was.len())],
                    &digest[..12.min(digest.len())]
                ),
                "delete this run's summary.json to train it again on this world, or pass another --out",
            )),
            _ => Ok(()),
        }
    }
}

/// The calibration gates of one seed (on raw and filter only) and the negative control's
/// result behind the control gate.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Calibration {
    pub gates: Vec<Gate>,
    pub passed: bool,
    pub control: Option<GymResult>,
}

impl Calibration {
    /// The gates on `runs` (raw's and filter's results) and the control's result.
    pub fn of(runs: &[RunSummary], control: Option<GymResult>) -> Self {
        let result = |name: &str| runs.iter().find(|r| r.name == name).and_then(|r| r.results.as_ref());
        let gates = crate::calibration::gates(result("raw"), result("filter"), control.as_ref());
        Calibration { passed: crate::calibration::all_pass(&gates), gates, control }
    }

    /// One world's gates over its training runs (`rsr study --replicates`): raw's and filter's
    /// results pooled over the replicates — every prompt of every run, so each rate is the mean
    /// over runs — and the negative control from whichever replicate trained it (kept in that
    /// replicate's own calibration, not here).
    pub fn over_replicates(replicates: &[&SeedRun]) -> Self {
        let pooled = |name: &str| {
            let found: Vec<&GymResult> =
                replicates.iter().filter_map(|s| s.runs().iter().find(|r| r.name == name)?.results.as_ref()).collect();
            GymResult::pooled(&found)
        };
        let control = replicates.iter().find_map(|s| s.results.as_ref()?.calibration.control.as_ref());
        let mut gates = crate::calibration::gates(pooled("raw").as_ref(), pooled("filter").as_ref(), control);
        // Each gate's interval over the runs too: whether a world passes with margin is a
        // question about training runs, not about the prompts of one (the pass itself is the
        // mean over runs, as before). The control is trained once.
        for g in gates.iter_mut().filter(|g| g.name != crate::calibration::CONTROL) {
            let runs: Vec<f64> = replicates
                .iter()
                .filter_map(|s| s.results.as_ref()?.calibration.gates.iter().find(|x| x.name == g.name && x.n > 0))
                .map(|x| x.value)
                .collect();
            g.read_over_runs(&runs);
        }
        Calibration { passed: crate::calibration::all_pass(&gates), gates, control: None }
    }
}

/// One seed of the experiment: `rsr demo`'s `results.json` (and each study seed's).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SeedResults {
    pub calibration: Calibration,
    pub runs: Vec<RunSummary>,
}

impl SeedResults {
    pub fn write(&self, path: &Path) -> Result<()> {
        // Through a `Value`, as every results file has been written: an f32 reads as the f64 it
        // widens to, so files from before and after compare byte for byte.
        let value = serde_json::to_value(self).expect("results serialise");
        rsr_core::atomic::write_all(path, serde_json::to_string_pretty(&value).expect("results serialise").as_bytes())
    }

    /// Read a `results.json` that `rsr demo` wrote; anything else is an error naming the file.
    pub fn read(path: &Path) -> Result<Self> {
        match ResultsFile::read(path)? {
            ResultsFile::Seed(s) => Ok(*s),
            ResultsFile::Runs(_) => Err(Error::input(
                path,
                "holds run summaries, not an experiment's results (no `calibration`)",
                "pass the results.json that `rsr demo` (or a study seed) wrote",
            )),
        }
    }
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
    /// Words of ground-truth unsafe sentences left trainable
    /// ([`crate::experiment::unsafe_trainable_words`]).
    pub unsafe_trainable: u64,
}

/// One seed of the experiment, whole: its corpora and (when it trained) its results.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SeedRun {
    pub seed: u64,
    /// Which training run of the seed's world (0: the first; `rsr study --replicates`).
    #[serde(default, skip_serializing_if = "is_first")]
    pub replicate: u32,
    pub corpora: Vec<CorpusRow>,
    #[serde(flatten)]
    pub results: Option<SeedResults>,
}

fn is_first(replicate: &u32) -> bool {
    *replicate == 0
}

impl SeedRun {
    /// The runs (none when the seed built corpora only).
    pub fn runs(&self) -> &[RunSummary] {
        self.results.as_ref().map(|r| &r.runs[..]).unwrap_or(&[])
    }

    /// Whether every calibration gate of this seed passed (not when nothing was measured).
    pub fn passed(&self) -> bool {
        self.results.as_ref().is_some_and(|r| r.calibration.passed)
    }
}

/// Any file of results: one seed's (`rsr demo`), or run summaries (one, or an array).
pub enum ResultsFile {
    Seed(Box<SeedResults>),
    Runs(Vec<RunSummary>),
}

impl ResultsFile {
    pub fn read(p: &Path) -> Result<Self> {
        let raw = std::fs::read(p).map_err(|e| Error::io(p, e))?;
        let v: serde_json::Value = serde_json::from_slice(&raw).map_err(|e| {
            Error::input(p, e.to_string(), "pass JSON written by `rsr demo`, `rsr eval --out` or `rsr tamper --out`")
        })?;
        let bad =
            |what: String| Error::input(p, what, "each run needs at least `name`; see docs/formats.md#run-summaries");
        match v {
            serde_json::Value::Object(o) if o.contains_key("runs") && !o.contains_key("name") => {
                let s: SeedResults =
                    serde_json::from_value(serde_json::Value::Object(o)).map_err(|e| bad(format!("results: {e}")))?;
                Ok(ResultsFile::Seed(Box::new(s)))
            }
            serde_json::Value::Array(a) => Ok(ResultsFile::Runs(
                a.into_iter()
                    .enumerate()
                    .map(|(i, item)| serde_json::from_value(item).map_err(|e| bad(format!("entry {i}: {e}"))))
                    .collect::<Result<_>>()?,
            )),
            other => {
                Ok(ResultsFile::Runs(vec![serde_json::from_value(other).map_err(|e| bad(format!("entry 0: {e}")))?]))
            }
        }
    }

    pub fn runs(self) -> Vec<RunSummary> {
        match self {
            ResultsFile::Seed(s) => s.runs,
            ResultsFile::Runs(r) => r,
        }
    }
}

/// Read summaries from JSON files (one summary, an array, or `rsr demo`'s `results.json`),
/// merging those with the same name in order (later fields fill in what earlier lack).
pub fn load(paths: &[impl AsRef<Path>]) -> Result<Vec<RunSummary>> {
    let mut out: Vec<RunSummary> = Vec::new();
    for p in paths {
        for s in ResultsFile::read(p.as_ref())?.runs() {
            match out.iter_mut().find(|o| o.name == s.name) {
                Some(o) => merge(o, s),
                None => out.push(s),
            }
        }
    }
    if out.is_empty() {
        return Err(Error::Invalid("no runs to report on".into()));
    }
    Ok(out)
}

fn merge(into: &mut RunSummary, s: RunSummary) {
    if s.results.is_some() || into.decoding.is_null() {
        into.decoding = s.decoding;
    }
    if s.results.is_some() {
        into.results = s.results;
    }
    if !s.curve.is_empty() {
        into.curve = s.curve;
    }
    if !s.tamper.is_empty() {
        into.tamper = s.tamper;
    }
    if !s.operating.is_empty() {
        into.operating = s.operating;
    }
    into.prompt_suites.extend(s.prompt_suites);
    into.cost.corpus_tokens = s.cost.corpus_tokens.or(into.cost.corpus_tokens);
    into.cost.corpus_vs_raw = s.cost.corpus_vs_raw.or(into.cost.corpus_vs_raw);
    into.cost.train_tokens_per_s = s.cost.train_tokens_per_s.or(into.cost.train_tokens_per_s);
    into.cost.train_threads = s.cost.train_threads.or(into.cost.train_threads);
    into.cost.seconds = s.cost.seconds.or(into.cost.seconds);
}

#[cfg(test)]
mod world_tests {
    use super::*;

    #[test]
    fn a_kept_run_from_another_world_is_refused_naming_its_file() {
        let path = Path::new("OUT/seed-0/runs/raw/summary.json");
        let run = |d: Option<&str>| RunSummary { world_digest: d.map(String::from), ..RunSummary::default() };
        run(Some("abc")).check_world(path, "abc").unwrap();
        run(None).check_world(path, "abc").unwrap();
        let err = run(Some("0123456789abcdef")).check_world(path, "fedcba9876543210").unwrap_err().to_string();
        assert!(err.contains("summary.json") && err.contains("another world") && err.contains("0123456789ab"), "{err}");
    }
}
