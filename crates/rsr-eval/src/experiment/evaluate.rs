//! One model per (variant, budget), evaluated: the suite on its final checkpoint, the learning
//! curve over the others, every monitor's matched operating point, the tamper attack.

use super::training::{train, Data, Length};
use super::{ExperimentConfig, Stage, Training, Variant};
use crate::gym::WorldSuite;
use crate::monitors::{Monitor, WorldMonitors};
use crate::operating::Samples;
use crate::results::{Budget, CorpusRow, Cost, PhaseSeconds, RunSummary};
use rsr_core::Result;
use rsr_corpus::transform::Mode;
use rsr_model::finetune::FinetuneConfig;
use rsr_model::train::FirstPhase;
use rsr_world::prompts::PromptRecord;

/// Train one model per selected variant and budget (checkpoints along the way for the learning
/// curve) and evaluate each: the full suite on the final checkpoint, the curve over the others,
/// every monitor's matched operating point, the tamper attack. Returns one run summary per
/// (variant, budget), each also written to its run's `summary.json` (kept by `cfg.resume`).
pub fn train_and_evaluate(
    cfg: &ExperimentConfig,
    corpora: &[CorpusRow],
    suite: &WorldSuite,
    progress: &mut dyn FnMut(Stage),
) -> Result<Vec<RunSummary>> {
    // The monitors fitted once per world (the external classifier, on the labels the variants
    // were built from), shared by every model.
    let monitors = WorldMonitors::fit(suite, cfg.labels())?;
    let trace_prompts = crate::operating::prompts(suite)?;
    let world_digest = suite.digest()?;
    let ctx = Context { cfg, corpora, suite, monitors: &monitors, trace_prompts: &trace_prompts, world_digest };
    let specs: Vec<RunSpec> =
        cfg.trained_runs().into_iter().map(|(variant, budget)| RunSpec { variant, budget }).collect();
    if cfg.jobs <= 1 || specs.len() <= 1 {
        return specs.into_iter().map(|run| evaluate_run(&ctx, run, progress)).collect();
    }
    at_once(specs.len(), cfg.jobs, |i, report| evaluate_run(&ctx, specs[i], report), progress)
}

/// What a worker reports while [`at_once`] runs: the [`Stage`]s a run emits, owned so they can
/// cross to the thread that prints them.
enum Report {
    Train(String, u64, u64),
    Eval(String, String, usize, usize),
}

/// The threads each of `jobs` models trained at once gets: its share of the worker pool (at
/// least one). A model's numbers depend on it (`cost.train_threads`).
pub fn threads_per_job(jobs: usize) -> usize {
    (rayon::current_num_threads() / jobs.max(1)).max(1)
}

/// `work(i)` for every i below `n`, `jobs` at a time, each in a rayon pool of its share of the
/// worker threads (at least one); the results in index order. Progress is reported from the
/// calling thread. A failure stops the items not yet started; once those already started have
/// finished, the error of the first failed item (in index order) is returned (a run is
/// resumable where it stopped).
fn at_once<T: Send>(
    n: usize,
    jobs: usize,
    work: impl Fn(usize, &mut dyn FnMut(Stage)) -> Result<T> + Sync,
    progress: &mut dyn FnMut(Stage),
) -> Result<Vec<T>> {
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    let jobs = jobs.clamp(1, n.max(1));
    let threads = threads_per_job(jobs);
    let next = AtomicUsize::new(0);
    let failed = AtomicBool::new(false);
    let done: std::sync::Mutex<Vec<Option<Result<T>>>> = std::sync::Mutex::new((0..n).map(|_| None).collect());
    let (tx, rx) = std::sync::mpsc::channel::<Report>();
    let work = &work;
    std::thread::scope(|scope| {
        for _ in 0..jobs {
            let tx = tx.clone();
            let (next, failed, done) = (&next, &failed, &done);
            scope.spawn(move || {
                let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build();
                while !failed.load(Ordering::SeqCst) {
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    if i >= n {
                        break;
                    }
                    let mut report = |s: Stage| {
                        let r = match s {
                            Stage::Train(name, step, steps) => Report::Train(name.into(), step, steps),
                            Stage::Eval(name, what, k, of) => Report::Eval(name.into(), what.into(), k, of),
                            _ => return,
                        };
                        let _ = tx.send(r);
                    };
                    let result = match &pool {
                        Ok(pool) => pool.install(|| work(i, &mut report)),
                        Err(e) => {
                            Err(rsr_core::Error::Invalid(format!("could not start {threads} worker threads: {e}")))
                        }
                    };
                    if result.is_err() {
                        failed.store(true, Ordering::SeqCst);
                    }
                    done.lock().expect("no worker panics holding it")[i] = Some(result);
                }
            });
        }
        // Every sender is a worker's: the loop ends when the last worker is done.
        drop(tx);
        for r in rx {
            match r {
                Report::Train(name, step, steps) => progress(Stage::Train(&name, step, steps)),
                Report::Eval(name, what, k, of) => progress(Stage::Eval(&name, &what, k, of)),
            }
        }
    });
    let mut out = Vec::with_capacity(n);
    let mut first_error = None;
    for slot in done.into_inner().expect("no worker panics holding it").into_iter().flatten() {
        match slot {
            Ok(t) => out.push(t),
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
    }
    match first_error {
        Some(e) => Err(e),
        None => Ok(out),
    }
}

/// One model of the experiment: a variant at a budget.
#[derive(Debug, Clone, Copy)]
struct RunSpec {
    variant: &'static Variant,
    budget: Budget,
}

/// What every run of one seed shares.
struct Context<'a> {
    cfg: &'a ExperimentConfig,
    corpora: &'a [CorpusRow],
    suite: &'a WorldSuite,
    monitors: &'a WorldMonitors,
    trace_prompts: &'a [PromptRecord],
    /// The world's digest, recorded in every run and checked on every kept one.
    world_digest: String,
}

fn evaluate_run(ctx: &Context, run: RunSpec, progress: &mut dyn FnMut(Stage)) -> Result<RunSummary> {
    let Context { cfg, corpora, suite, .. } = *ctx;
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
    let results = crate::gym(&model, suite, &gen, 0, &mut tick)?;
    seconds.suite = lap();
    let curve = if cfg.curve_points > 1 {
        crate::curve::curve(&run_dir, suite, &gen, cfg.curve_per_set, &mut tick)?
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
    let mut operating = crate::operating::points(suite, &model, ctx.trace_prompts, &gen, &monitors, None)?;
    if cfg.samples > 0 {
        tick("matched operating point, sampled", 0, 1);
        let samples = Samples { n: cfg.samples, temperature: cfg.sample_temperature };
        operating.extend(crate::operating::points(suite, &model, ctx.trace_prompts, &gen, &monitors, Some(samples))?);
    }
    seconds.operating = lap();
    let tamper = if cfg.tamper_steps.iter().any(|&s| s > 0) {
        // The attacker's data: the world's training documents that hold unsafe text, as written.
        let data = crate::tamper::attack_data(&model, &suite.dir.root, rsr_world::write::GROUND_TRUTH, suite)?;
        let ft = FinetuneConfig { seed: cfg.train_seed(), ..FinetuneConfig::default() };
        crate::tamper::tamper(&mut model, &data, suite, &gen, ft, &cfg.tamper_steps, cfg.curve_per_set, &mut tick)?
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn models_at_once_come_back_in_order_each_on_its_share_of_the_threads() {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(4).build().unwrap();
        let mut seen = Vec::new();
        let out = pool
            .install(|| {
                at_once(
                    5,
                    2,
                    |i, report| {
                        report(Stage::Train(&format!("m{i}"), 1, 1));
                        std::thread::sleep(std::time::Duration::from_millis(((5 - i) * 5) as u64));
                        Ok((i, rayon::current_num_threads()))
                    },
                    &mut |s| {
                        if let Stage::Train(name, ..) = s {
                            seen.push(name.to_string())
                        }
                    },
                )
            })
            .unwrap();
        assert_eq!(out, (0..5).map(|i| (i, 2)).collect::<Vec<_>>(), "in order, 4 threads / 2 jobs each");
        seen.sort();
        assert_eq!(seen, ["m0", "m1", "m2", "m3", "m4"], "every run's progress reaches the caller");
        // More jobs than threads: one thread each, never none.
        let one = rayon::ThreadPoolBuilder::new().num_threads(1).build().unwrap();
        let out = one.install(|| at_once(3, 3, |_, _| Ok(rayon::current_num_threads()), &mut |_| {})).unwrap();
        assert_eq!(out, [1, 1, 1]);
    }

    #[test]
    fn the_first_failure_stops_what_has_not_started_and_is_the_error() {
        let started = std::sync::atomic::AtomicUsize::new(0);
        let err = at_once(
            50,
            2,
            |i, _| {
                started.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                if i == 1 {
                    return Err(rsr_core::Error::Invalid("run 1 failed".into()));
                }
                std::thread::sleep(std::time::Duration::from_millis(2));
                Ok(i)
            },
            &mut |_| {},
        )
        .unwrap_err();
        assert!(err.to_string().contains("run 1 failed"), "{err}");
        assert!(started.load(std::sync::atomic::Ordering::SeqCst) < 10, "the rest did not start");
    }
}
