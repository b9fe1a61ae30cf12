//! A world made ready for its models, and its models: one per (variant, budget), each trained
//! and evaluated — the suite on its final checkpoint, the learning curve over the others, every
//! monitor's matched operating point, the tamper attack — and the negative control.

use super::training::{train, Data, Length};
use super::{ExperimentConfig, Stage, Training, Variant};
use crate::curve::Evaluated;
use crate::gym::{GymResult, WorldSuite};
use crate::monitors::{Monitor, WorldMonitors};
use crate::operating::Samples;
use crate::results::{Budget, CorpusRow, Cost, PhaseSeconds, RunSummary};
use rsr_core::Result;
use rsr_corpus::transform::Mode;
use rsr_decode::memo::Generations;
use rsr_model::finetune::FinetuneConfig;
use rsr_model::train::FirstPhase;
use rsr_world::prompts::PromptRecord;

/// One world of the experiment (a seed's world, one training run of it) ready for its models:
/// its corpora, the world read once, and the monitors fitted once on it (the external
/// classifier, on the labels the variants were built from), shared by every model.
pub(super) struct Prepared {
    pub cfg: ExperimentConfig,
    pub corpora: Vec<CorpusRow>,
    pub suite: WorldSuite,
    monitors: WorldMonitors,
    trace_prompts: Vec<PromptRecord>,
    /// The world's digest, recorded in every run and checked on every kept one.
    world_digest: String,
}

impl Prepared {
    pub fn new(cfg: &ExperimentConfig, corpora: Vec<CorpusRow>) -> Result<Self> {
        let suite = WorldSuite::open(&cfg.world_dir())?;
        let monitors = WorldMonitors::fit(&suite, cfg.labels())?;
        let trace_prompts = crate::operating::prompts(&suite)?;
        let world_digest = suite.digest()?;
        Ok(Prepared { cfg: cfg.clone(), corpora, suite, monitors, trace_prompts, world_digest })
    }
}

/// One model of the experiment.
#[derive(Debug, Clone, Copy)]
pub(super) enum Job {
    /// A variant at a budget, trained and evaluated ([`evaluate_run`]).
    Run(RunSpec),
    /// The negative control ([`super::train_control`]).
    Control,
}

/// What a [`Job`] gives.
pub(super) enum Done {
    Run(Box<RunSummary>),
    Control(Box<GymResult>),
}

/// The models of `cfg`, in the order they are planned ([`ExperimentConfig::planned_models`]):
/// one per selected variant and budget, then the negative control when `cfg.control`.
pub(super) fn jobs(cfg: &ExperimentConfig) -> Vec<Job> {
    if cfg.train_tokens == 0 {
        return vec![];
    }
    let mut jobs: Vec<Job> =
        cfg.trained_runs().into_iter().map(|(variant, budget)| Job::Run(RunSpec { variant, budget })).collect();
    if cfg.control {
        jobs.push(Job::Control);
    }
    jobs
}

/// Train and evaluate one model of `world`. A run's summary is also written to its
/// `summary.json` (kept by `cfg.resume`), the control's result to its `result.json`.
pub(super) fn run_job(world: &Prepared, job: Job, progress: &mut dyn FnMut(Stage)) -> Result<Done> {
    match job {
        Job::Run(run) => evaluate_run(world, run, progress).map(|r| Done::Run(Box::new(r))),
        Job::Control => super::train_control(&world.cfg, &world.suite, progress).map(|c| Done::Control(Box::new(c))),
    }
}

/// One model of the experiment: a variant at a budget.
#[derive(Debug, Clone, Copy)]
pub(super) struct RunSpec {
    variant: &'static Variant,
    budget: Budget,
}

/// Train one model (checkpoints along the way for the learning curve) and evaluate it: the full
/// suite on its final checkpoint, the curve over the others, every monitor's matched operating
/// point, the tamper attack.
fn evaluate_run(ctx: &Prepared, run: RunSpec, progress: &mut dyn FnMut(Stage)) -> Result<RunSummary> {
    let (cfg, corpora, suite) = (&ctx.cfg, &ctx.corpora[..], &ctx.suite);
    let run_name = run.budget.run_name(run.variant.name);
    let run_dir = cfg.run_dir(&run_name);
    let done = cfg.summary_path(&run_name);
    if cfg.resume && done.is_file() {
        // Kept, unless it lacks (or has) the sampled rows this run asks for: then the model is
        // kept and only evaluated again.
        let summary = crate::results::load(&[&done])?.remove(0);
        summary.check_world(&done, &ctx.world_digest)?;
        let sampled = summary.operating.iter().any(|o| o.sampling.is_some());
        if sampled == (cfg.samples > 0) {
            return Ok(summary);
        }
    }
    let corpus = run.variant.corpus();
    let row = corpora.iter().find(|c| c.name == corpus);
    let budget = run.budget.tokens(cfg.train_tokens, row.map(|r| r.vs_raw).unwrap_or(1.0));
    let (tokens, first) = match run.variant.training {
        Training::Budget => (budget, None),
        Training::EqualTrained => {
            let trained = 1.0 - row.map(|r| r.masked_fraction).unwrap_or(0.0);
            ((budget as f64 / trained.max(1e-3)).round() as u64, None)
        }
        Training::AfterRaw { raw_share } => {
            let first = FirstPhase { data: cfg.packed_dir("raw"), tokens: (budget as f64 * raw_share) as u64 };
            (budget, Some(first))
        }
    };
    let length = if run.budget == Budget::Plateau { Length::Plateau { cap: tokens } } else { Length::Tokens(tokens) };
    let data = Data { pack: &cfg.packed_dir(corpus), first };
    let clock = std::time::Instant::now();
    let trained = train(cfg, data, &run_dir, length, cfg.curve_points, &run_name, progress)?;
    let mut seconds = PhaseSeconds::default();
    let mut lap = {
        let mut last = clock;
        move || {
            let now = std::time::Instant::now();
            let s = (now - last).as_secs_f64();
            last = now;
            s
        }
    };
    seconds.train = lap();
    let gen = cfg.decoding(run.variant);
    let mut tick = |what: &str, i: usize, n: usize| progress(Stage::Eval(&run_name, what, i, n));
    let mut model = rsr_decode::Loaded::from_dir(&trained.counts.checkpoint)?;
    // The final model is asked many of the same prompts under the same decoding — the suite,
    // the curve's last point, the traces, the attack's step 0 — and answers each once.
    let generations = Generations::new(&model);
    let results = crate::gym::gym_with(&generations, suite, &gen, 0, None, &mut tick)?;
    seconds.suite = lap();
    let curve = if cfg.curve_points > 1 {
        let last = Evaluated { checkpoint: &trained.counts.checkpoint, model: &generations, results: &results };
        crate::curve::curve_after(&run_dir, suite, &gen, cfg.curve_per_set, Some(last), &mut tick)?
    } else {
        vec![]
    };
    seconds.curve = lap();
    // Every variant at the same over-refusal: θ per monitor on validation, scored on test
    // (before the tamper attack below fine-tunes the model in place).
    tick("matched operating point", 0, 1);
    let own_signal = matches!(run.variant.mode, Mode::Rsr | Mode::Tag);
    let fitted = ctx.monitors.for_model(suite, cfg.labels(), &model, own_signal, &mut |m| tick(m, 0, 1))?;
    let monitors: Vec<&dyn Monitor> = fitted.iter().map(|m| &**m).collect();
    let mut operating = crate::operating::points(suite, &generations, &ctx.trace_prompts, &gen, &monitors, None)?;
    if cfg.samples > 0 {
        tick("matched operating point, sampled", 0, 1);
        let samples = Samples { n: cfg.samples, temperature: cfg.sample_temperature };
        operating.extend(crate::operating::points(
            suite,
            &generations,
            &ctx.trace_prompts,
            &gen,
            &monitors,
            Some(samples),
        )?);
    }
    seconds.operating = lap();
    let tamper = if cfg.tamper_steps.iter().any(|&s| s > 0) {
        let before = if cfg.tamper_steps.contains(&0) {
            Some(crate::tamper::untampered(&generations, suite, &gen, cfg.curve_per_set, &mut tick)?)
        } else {
            None
        };
        // Fine-tuning changes the model in place: what borrowed it ends here.
        drop((fitted, generations));
        // The attacker's data: the world's training documents that hold unsafe text, as written.
        let data = crate::tamper::attack_data(&model, &suite.dir.root, rsr_world::write::GROUND_TRUTH, suite)?;
        let ft = FinetuneConfig { seed: cfg.train_seed(), ..FinetuneConfig::default() };
        let after: Vec<u64> = cfg.tamper_steps.iter().copied().filter(|&s| s > 0).collect();
        let points = crate::tamper::tamper(&mut model, &data, suite, &gen, ft, &after, cfg.curve_per_set, &mut tick)?;
        before.into_iter().chain(points).collect()
    } else {
        vec![]
    };
    seconds.tamper = lap();
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
            train_tokens_per_s: Some(trained.timing.tokens_per_s),
            train_threads: Some(trained.timing.threads),
            seconds: Some(seconds),
        },
        variant: Some(run.variant.name.to_string()),
        budget: Some(run.budget),
        train_tokens: Some(tokens),
        world_digest: Some(ctx.world_digest.clone()),
        ..RunSummary::default()
    };
    rsr_core::atomic::write_all(&done, serde_json::to_string_pretty(&summary).expect("serialises").as_bytes())?;
    Ok(summary)
}
