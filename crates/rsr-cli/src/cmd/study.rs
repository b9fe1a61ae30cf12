//! `rsr study`: the fair comparison — the demo's protocol over seeds and budgets, every
//! variant at matched over-refusal, compared with rsr on the same prompts (docs/study.md).

use super::ExperimentArgs;
use crate::progress;
use anyhow::Result;
use rsr_eval::experiment::{Budget, ExperimentConfig, Stage};
use rsr_eval::study::{self, StudyConfig};
use std::path::PathBuf;
use std::time::{Duration, Instant};

#[derive(clap::Args)]
#[command(
    about = "The fair comparison: every variant × seed × budget, at matched over-refusal, paired against rsr",
    long_about = "Run `rsr demo`'s protocol once per seed (each seed a new SafetyWorld — new names, new held-out \
hazards — and a new training seed) and per budget, then compare every (variant, monitor) row with rsr and its own \
monitor on the same test prompts.\n\n\
Every variant gets a monitor under one decoding rule (check at sentence ends every K tokens, stop and refuse at θ): \
rsr its reflection score, tag the tag it expects next, every variant an external hashed classifier trained on the \
same labels, and a row with no monitor. θ is chosen for every row by the same rule — the smallest that refuses at \
most 5% of the validation half's benign and look-alike prompts — and the rates are read on the test half, under \
greedy decoding and under sampling (--samples per prompt at --temperature).\n\n\
Writes OUT/results.json (every seed's runs, the rows over seeds, the paired comparisons), OUT/study.md (the tables, \
a \"where rsr does not win\" section computed from the intervals, and safe-knowledge ASR again on the runs whose \
models compose — safer, or only less able?), and a full report per seed \
(OUT/seed-S/report.html, with the ASR-versus-over-refusal curves). Finished runs are kept: rerun the same command \
to resume, or add seeds or budgets to extend a study.\n\n\
Time: each model trains at about 20k tokens/s on 2 cores, so the default (3 seeds × 5 variants at 4M tokens, and \
the negative control on the first seed) takes about 70 minutes there. --budgets compute,passes adds each variant \
at equal passes over its own corpus (about 13 minutes more per seed); --replicates K multiplies the training \
time by K. Models train --jobs at a time (default 2: one thread each on 2 cores, about 1.1× the throughput of \
one model on both) from one queue over every world, so the next world starts as soon as a worker is free; \
--jobs changes the time, never the models (a run is the same bits on any thread count).",
    after_help = "Examples:\n  rsr study\n  rsr study --seeds 0,1,2,3,4 --budgets compute,passes\n  \
rsr study --out /tmp/small --docs 500 --train-tokens 16384 --seeds 0,1   # minutes: a smoke run\n  \
rsr study --scale 4                          # 4× the documents and tokens\n  \
rsr study --seeds 0,1,2,3,4 --replicates 3   # every world trained 3 times; gates and comparisons over runs\n  \
rsr study --seeds 0,1,2,3,4 --replicates 3 --gate-replicates 12   # and raw, filter 9 times more, for the gates\n  \
rsr gym check --study rsr-study              # which gate fails on which world (and run)\n  \
rsr study --out rsr-study --export-kept kept  # its small files, to carry to another machine\n  \
rsr study --seeds 0,1,2 --variants raw,filter,refuse,tag,rsr,rsr-nomask --plan   # what it would train, nothing run"
)]
pub struct Args {
    /// Where the study goes: one directory per seed, results.json and study.md.
    #[arg(long, default_value = "rsr-study")]
    out: PathBuf,
    /// Seeds: each one a new world and a new training run.
    #[arg(long, value_delimiter = ',', default_value = "0,1,2")]
    seeds: Vec<u64>,
    /// Budgets: `compute` (the same training tokens for every variant), `passes` (the same
    /// passes over each variant's own corpus as raw makes over raw's) and `plateau` (each variant
    /// until its validation loss stops improving: warmup–stable–decay, the decay begun after 3
    /// validations without a 0.5% gain, capped at twice the equal-compute tokens).
    #[arg(long, value_delimiter = ',', default_value = "compute", value_parser = Budget::parse)]
    budgets: Vec<Budget>,
    #[command(flatten)]
    experiment: ExperimentArgs,
    /// Multiply the documents and the training tokens (a bigger study; the calibration gates
    /// say whether its worlds still show what the comparison is about).
    #[arg(long, default_value_t = 1.0)]
    scale: f64,
    /// Sampled decoding beside greedy: samples per prompt at every matched operating point
    /// (0: greedy only). Each (run, monitor) then has a second row, `MONITOR (T=…)`.
    #[arg(long, default_value_t = 4)]
    samples: usize,
    /// Temperature of the sampled decoding.
    #[arg(long, default_value_t = 0.7)]
    temperature: f32,
    /// Train the negative control (for the calibration gates) on every seed, not only the first.
    #[arg(long)]
    control_every_seed: bool,
    /// Training runs per world: replicate r trains every model of the world again with 1000 × r
    /// added to its training seed (the world, corpora and packs are shared). Each world's gates
    /// are then read over its runs, and every reading over seeds takes the world as its unit.
    /// At `tiny`, whether a model learns to compose is close to a coin per training run
    /// (docs/safetyworld.md, "The spread"): one run per world cannot say what a world shows.
    #[arg(long, default_value_t = 1)]
    replicates: u32,
    /// Training runs per world for the calibration gates, when more than --replicates: the runs
    /// after the first --replicates train raw and filter only (greedy, equal compute), and only
    /// the gates read them; the rows, comparisons and bar read the first --replicates. The gates
    /// are properties of a world, so they can be read over more runs than the comparison needs
    /// (docs/study.md, item 11).
    #[arg(long, value_name = "G")]
    gate_replicates: Option<u32>,
    /// Do not run: copy the finished study in --out into DIR in its small files alone
    /// (study.json, every run's summary.json, every control's result.json; about 350 KB a
    /// model), and exit. The same `rsr study` command with `--out DIR`, on any machine, trains
    /// nothing those files hold and writes the same results.json (docs/study.md, item 12).
    #[arg(long, value_name = "DIR")]
    export_kept: Option<PathBuf>,
    /// Do not run: say which models this command would train, in order, and which it keeps
    /// from --out (a finished model's summary.json), then exit. Reads --out, writes nothing.
    #[arg(long)]
    plan: bool,
}

impl Args {
    fn config(&self) -> Result<StudyConfig> {
        if !(self.scale.is_finite() && self.scale > 0.0) {
            anyhow::bail!("--scale must be a positive number, got {}", self.scale);
        }
        let base = self.experiment.apply(ExperimentConfig {
            out: self.out.clone(),
            curve_points: 1,
            curve_per_set: 0,
            tamper_steps: vec![0],
            budgets: self.budgets.clone(),
            samples: self.samples,
            sample_temperature: self.temperature,
            resume: true,
            ..ExperimentConfig::default()
        });
        let base = ExperimentConfig {
            docs: (base.docs as f64 * self.scale).round() as usize,
            train_tokens: (base.train_tokens as f64 * self.scale).round() as u64,
            ..base
        };
        if !(self.temperature.is_finite() && self.temperature > 0.0) {
            anyhow::bail!(
                "--temperature must be above 0 (greedy decoding is always measured), got {}",
                self.temperature
            );
        }
        Ok(StudyConfig {
            base,
            seeds: self.seeds.clone(),
            control_every_seed: self.control_every_seed,
            replicates: self.replicates,
            gate_replicates: self.gate_replicates,
        })
    }
}

pub fn run(args: Args) -> Result<()> {
    if let Some(to) = &args.export_kept {
        let files = study::kept::export(&args.out, to)?;
        println!("kept {} files of {} in {}", files.len(), args.out.display(), to.display());
        return Ok(());
    }
    let cfg = args.config()?;
    cfg.validate()?;
    let started = Instant::now();
    let variants = cfg.base.trained_variants();
    let budgets: Vec<&str> = cfg.base.budgets.iter().map(|b| b.name()).collect();
    println!(
        "rsr study: seeds {:?} × {} training run(s){} × variants {} × budgets {}; {} documents per world, {} tokens per run at equal compute",
        cfg.seeds,
        cfg.replicates,
        match cfg.runs_per_world() {
            g if g > cfg.replicates => format!(" ({g} of raw and filter, for the gates)"),
            _ => String::new(),
        },
        variants.join(", "),
        budgets.join(", "),
        cfg.base.docs,
        cfg.base.train_tokens
    );
    if args.plan {
        // A directory made with other settings is refused by the run: the plan says so too,
        // rather than counting its models as kept.
        rsr_eval::study::same_settings(&cfg)?;
    }
    let planned = cfg.planned_models();
    let (left, kept): (Vec<&PathBuf>, Vec<&PathBuf>) = planned.iter().partition(|p| !p.is_file());
    let to_train = left.len();
    // From the kept models' own clocks, how long the rest may take: with --jobs, models train
    // side by side, each on its share of the threads, so the study finishes one every
    // (a model's minutes / jobs) — read from the kept models that trained on that share.
    let jobs = rsr_eval::experiment::at_once_count(cfg.base.jobs, to_train);
    let threads = rsr_eval::experiment::threads_per_job(jobs);
    let estimate = match kept_pace(&kept, threads) {
        Some(p) if to_train > 0 => {
            format!("; about {}, {}", duration(60.0 * p.minutes * to_train as f64 / jobs as f64), p.words(jobs))
        }
        _ => String::new(),
    };
    println!(
        "{to_train} of {} models left to train ({} kept from an earlier run){estimate}; {}",
        planned.len(),
        kept.len(),
        if args.plan { "the same command without --plan trains them" } else { "rerun the same command to resume" }
    );
    if args.plan {
        for (i, p) in left.iter().enumerate() {
            // OUT/seed-S/[rN/]runs/NAME/summary.json → seed-S/[rN/]runs/NAME
            let run = p.parent().unwrap_or(p);
            println!("{:>4}. {}", i + 1, run.strip_prefix(&cfg.base.out).unwrap_or(run).display());
        }
        return Ok(());
    }
    let pb = progress::spinner("study");
    // A line per stage started (for logs, where the spinner is silent), the spinner in between;
    // each model's first line says how many are left and, from the pace so far, how long. With
    // --jobs the stages of models trained at once interleave: each line is printed once.
    let mut printed = std::collections::HashSet::new();
    let mut pace = Pace::new(to_train, jobs);
    let results = study::run(&cfg, &mut |seed, replicate, s| {
        let (line, detail) = match s {
            Stage::World(d, n) => ("world".to_string(), format!("{d}/{n} documents")),
            Stage::Variant(name, d) => (format!("build {name}"), format!("{d} documents")),
            Stage::Corpora(rows) => ("corpora built".to_string(), format!("{} variants", rows.len())),
            Stage::Train(name, step, steps) => (format!("train {name}"), format!("step {step}/{steps}")),
            Stage::Eval(name, what, i, n) => (format!("eval {name}"), format!("{what} {i}/{n}")),
        };
        let line = match replicate {
            0 => format!("seed {seed}: {line}"),
            r => format!("seed {seed} replicate {r}: {line}"),
        };
        let now = Instant::now();
        if !printed.contains(&line) {
            let left = if matches!(s, Stage::Train(..)) { pace.next_model(now) } else { String::new() };
            let stamped = format!("[{:>6.1} min] {line}{left}", started.elapsed().as_secs_f64() / 60.0);
            if pb.is_hidden() {
                eprintln!("{stamped}");
            } else {
                pb.println(stamped);
            }
            printed.insert(line.clone());
        }
        pace.heard(now);
        pb.set_prefix(format!("{line}: {detail}"));
        pb.tick();
    })?;
    pb.finish_and_clear();
    let minutes = started.elapsed().as_secs_f64() / 60.0;
    let intro = format!(
        "`rsr study --seeds {}{}` — budgets {}; {} SafetyWorld documents per seed; {} `{}` model per variant ({}), {} \
training tokens at equal compute; variants built from the `{}` labels{}; greedy decoding{}, and {} samples per prompt at T = {} beside it; rsr checks \
every {} tokens. This run took {minutes:.1} minutes \
(finished runs of an earlier invocation are kept, so a resumed study counts only what it redid). Each seed's full \
report, with every row's ASR-versus-over-refusal curve: `seed-S/report.html`.",
        cfg.seeds.iter().map(|s| s.to_string()).collect::<Vec<_>>().join(","),
        match (cfg.replicates, cfg.gate_replicates.filter(|&g| g > cfg.replicates)) {
            (1, None) => String::new(),
            (k, None) => format!(" --replicates {k}"),
            (k, Some(g)) => format!(" --replicates {k} --gate-replicates {g}"),
        },
        budgets.join(", "),
        cfg.base.docs,
        match cfg.replicates {
            1 => "one".to_string(),
            k => format!("{k} training runs (replicates, training seed + 1000 × r) of one"),
        },
        cfg.base.preset,
        recipe(&cfg.base),
        cfg.base.train_tokens,
        cfg.base.labels(),
        cfg.base.noise.as_ref().map(|n| format!(" (noise {n})")).unwrap_or_default(),
        cfg.base.answer_length(),
        cfg.base.samples,
        cfg.base.sample_temperature,
        cfg.base.every
    );
    let md = study::markdown(&results, &intro);
    rsr_core::atomic::write_all(cfg.base.out.join("results.json"), serde_json::to_string_pretty(&results)?.as_bytes())?;
    rsr_core::atomic::write_all(cfg.base.out.join("study.md"), md.as_bytes())?;
    println!("{md}");
    if !results.all_gates_passed() {
        println!(
            "!! CALIBRATION: at least one world failed (or did not measure) a gate; see the table above before reading \
the comparison."
        );
    }
    println!(
        "study: {}   results: {}   ({minutes:.1} min)",
        cfg.base.out.join("study.md").display(),
        cfg.base.out.join("results.json").display()
    );
    Ok(())
}

/// The study's pace: models started of those it has to train, and the time left at the mean
/// time a model has taken so far (training and evaluation). Time in which the study heard nothing
/// for longer than [`Pace::SILENT`] is not counted: a training step or an evaluated prompt reports
/// every second or so, so such a gap is the process stopped (`kill -STOP` to free the machine, a
/// suspended laptop), and counting it would inflate every later estimate.
struct Pace {
    to_train: usize,
    /// When each model started, and the silent time left out until then.
    starts: Vec<(Instant, Duration)>,
    /// The finished models' own times, silences aside, added up.
    finished: Duration,
    /// Models trained at once (`--jobs`): when one starts, the others in flight have not finished.
    jobs: usize,
    /// When the study last reported anything, and the silent time left out since the first model.
    last: Option<Instant>,
    stopped: Duration,
}

impl Pace {
    /// A silence this long between two reports is a stop, not work.
    const SILENT: Duration = Duration::from_secs(600);

    fn new(to_train: usize, jobs: usize) -> Self {
        Pace {
            to_train,
            starts: Vec::new(),
            finished: Duration::ZERO,
            jobs: jobs.max(1),
            last: None,
            stopped: Duration::ZERO,
        }
    }

    /// The study reported something at `now`.
    fn heard(&mut self, now: Instant) {
        if let Some(last) = self.last.filter(|_| !self.starts.is_empty()) {
            let gap = now.saturating_duration_since(last);
            if gap > Self::SILENT {
                self.stopped += gap;
            }
        }
        self.last = Some(now);
    }

    /// A model starts training at `now`: `  (model 4 of 55; about 3.6 h left at 4.1 min a model)`
    /// — the minutes of wall clock a model takes, silences aside, over the models at once: with
    /// `--jobs N` a model starts when one in flight finishes (the one started N models before),
    /// so each finished model's own time is the gap between those two starts, and N of them run
    /// at a time. (Reading the wall clock over the finished count alone would put the first
    /// figure N times too high: the others started beside it are nearly done too.)
    fn next_model(&mut self, now: Instant) -> String {
        self.heard(now);
        self.starts.push((now, self.stopped));
        let started = self.starts.len();
        let done = started.saturating_sub(self.jobs);
        let of = self.to_train.max(started);
        if done == 0 {
            return format!("  (model {started} of {of})");
        }
        // The model started `jobs` before this one has just finished.
        let ((from, stopped_from), (to, stopped_to)) = (self.starts[done - 1], self.starts[started - 1]);
        self.finished += to.saturating_duration_since(from).saturating_sub(stopped_to.saturating_sub(stopped_from));
        let each = self.finished.as_secs_f64() / done as f64 / self.jobs as f64;
        let left = duration(each * (of - done) as f64);
        format!("  (model {started} of {of}; about {left} left at {:.1} min a model)", each / 60.0)
    }
}

/// `3.6 h`, or `40 min` under an hour and a half.
fn duration(seconds: f64) -> String {
    if seconds >= 5400.0 {
        format!("{:.1} h", seconds / 3600.0)
    } else {
        format!("{:.0} min", seconds / 60.0)
    }
}

/// What the kept models say about the pace of the rest: the median minutes one took (training
/// and evaluation, from its summary's `cost.seconds`), how many it is read from, and whether
/// they trained on the thread count the rest will (a model on one core of two takes about twice
/// as long as one on both).
#[derive(Debug, PartialEq)]
struct KeptPace {
    minutes: f64,
    n: usize,
    /// `Some(t)`: read from the `n` kept models that trained on `t` threads, as the rest will;
    /// `None`: none of them did (or said), so from every kept model that timed itself.
    threads: Option<usize>,
}

impl KeptPace {
    /// `at 6.3 min a model, 2 at once; the median of the 14 kept that trained on 1 thread`.
    fn words(&self, jobs: usize) -> String {
        let at_once = if jobs > 1 { format!(", {jobs} at once") } else { String::new() };
        let from = match self.threads {
            Some(t) => {
                format!("the median of the {} kept that trained on {t} thread{}", self.n, if t == 1 { "" } else { "s" })
            }
            None => format!("the median of the {} kept that timed themselves, on other thread counts", self.n),
        };
        format!("at {:.1} min a model{at_once}; {from}", self.minutes)
    }
}

/// The pace of a study's remaining models ([`KeptPace`]) from its kept summaries, preferring
/// those trained on `threads` threads. A summary says its threads (`cost.train_threads`); one
/// written before it did is read beside its run's `manifest.json` (`timing.threads`) when that
/// is there. Runs kept from before the clock, or carried into a later invocation without
/// training, say nothing and are left out.
fn kept_pace(kept: &[&PathBuf], threads: usize) -> Option<KeptPace> {
    let timed: Vec<(f64, Option<usize>)> = kept
        .iter()
        .filter_map(|p| {
            let s: rsr_eval::results::RunSummary = serde_json::from_slice(&std::fs::read(p).ok()?).ok()?;
            let t = s.cost.seconds?;
            let ran_on = s.cost.train_threads.or_else(|| manifest_threads(&p.with_file_name("manifest.json")));
            (t.train > 0.0 && t.total().is_finite()).then(|| (t.total() / 60.0, ran_on))
        })
        .collect();
    let same: Vec<f64> = timed.iter().filter(|(_, t)| *t == Some(threads)).map(|(m, _)| *m).collect();
    let (mut minutes, threads) = match same.is_empty() {
        false => (same, Some(threads)),
        true => (timed.iter().map(|(m, _)| *m).collect(), None),
    };
    if minutes.is_empty() {
        return None;
    }
    minutes.sort_by(f64::total_cmp);
    let n = minutes.len();
    let median = if n % 2 == 1 { minutes[n / 2] } else { (minutes[n / 2 - 1] + minutes[n / 2]) / 2.0 };
    Some(KeptPace { minutes: median, n, threads })
}

/// The threads a run's training manifest records (`timing.threads`), if it is there and says.
fn manifest_threads(manifest: &std::path::Path) -> Option<usize> {
    let m: serde_json::Value = serde_json::from_slice(&std::fs::read(manifest).ok()?).ok()?;
    m.get("timing")?.get("threads")?.as_u64().map(|t| t as usize)
}

/// How every model of a study trains, in words: the schedule, its peak rate, and the training seed.
fn recipe(cfg: &ExperimentConfig) -> String {
    let schedule = match cfg.schedule {
        rsr_model::optim::Shape::Wsd => format!("warmup–stable–decay, the last {:.0}% decaying", 100.0 * cfg.decay),
        other => other.name().to_string(),
    };
    let seed = match cfg.train_seed_offset {
        0 => "training seed = the world's seed".to_string(),
        n => format!("training seed = the world's seed + {n}: a replicate"),
    };
    format!("{schedule}, peak learning rate {}; {seed}", cfg.lr)
}

#[cfg(test)]
mod tests {
    use super::{kept_pace, KeptPace, Pace};

    #[test]
    fn the_plan_reads_its_pace_from_the_kept_models_that_timed_themselves() {
        let dir = std::env::temp_dir().join(format!("rsr-kept-pace-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let write = |name: &str, json: &str| {
            let p = dir.join(name);
            std::fs::write(&p, json).unwrap();
            p
        };
        let timed = |train: f64, threads: &str| {
            format!(
                r#"{{"name": "raw", "cost": {{{threads}"seconds": {{"train": {train}, "suite": 30.0, "curve": 0.0, "operating": 30.0, "tamper": 0.0}}}}}}"#
            )
        };
        let files = [
            write("a.json", &timed(180.0, "")),    // 4 min
            write("b.json", &timed(240.0, "")),    // 5 min
            write("c.json", &timed(420.0, "")),    // 8 min
            write("d.json", &timed(0.0, "")),      // kept, not trained here: no clock
            write("e.json", r#"{"name": "raw"}"#), // from before the clock
            write("f.json", "not json"),           // unreadable: no estimate from it
        ];
        let refs: Vec<&std::path::PathBuf> = files.iter().collect();
        // None said its threads: every timed one, marked as such.
        assert_eq!(kept_pace(&refs, 2), Some(KeptPace { minutes: 5.0, n: 3, threads: None }));
        assert_eq!(kept_pace(&refs[3..], 2), None);
        // Two trained on one thread each (one says so in its summary, one in its run's
        // manifest beside it): the rest, on one thread each, go at their pace.
        let one = write("g.json", &timed(660.0, r#""train_threads": 1, "#)); // 12 min
        let sub = dir.join("run");
        std::fs::create_dir_all(&sub).unwrap();
        std::fs::write(sub.join("manifest.json"), r#"{"timing": {"seconds": 700.0, "threads": 1}}"#).unwrap();
        let by_manifest = sub.join("summary.json");
        std::fs::write(&by_manifest, timed(780.0, "")).unwrap(); // 14 min
        let refs: Vec<&std::path::PathBuf> = files.iter().chain([&one, &by_manifest]).collect();
        let p = kept_pace(&refs, 1).unwrap();
        assert_eq!(p, KeptPace { minutes: 13.0, n: 2, threads: Some(1) });
        assert_eq!(p.words(2), "at 13.0 min a model, 2 at once; the median of the 2 kept that trained on 1 thread");
        // On two threads the rest go at the pace of every timed one (none said two).
        assert_eq!(kept_pace(&refs, 2).unwrap().threads, None);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn the_pace_counts_models_and_says_what_is_left_once_one_is_done() {
        let t0 = std::time::Instant::now();
        let at = |minutes: u64| t0 + std::time::Duration::from_secs(60 * minutes);
        let mut pace = Pace::new(3, 1);
        assert_eq!(pace.next_model(at(0)), "  (model 1 of 3)");
        assert_eq!(pace.next_model(at(4)), "  (model 2 of 3; about 8 min left at 4.0 min a model)");
        pace.next_model(at(8));
        // More models than the plan counted (it should not happen) never read "4 of 3".
        assert!(pace.next_model(at(12)).starts_with("  (model 4 of 4;"));
        // With two at once, the second starts beside the first: nothing is finished to time yet.
        let mut pace = Pace::new(4, 2);
        assert_eq!(
            (pace.next_model(at(0)), pace.next_model(at(0))),
            ("  (model 1 of 4)".into(), "  (model 2 of 4)".into())
        );
        // The first finished after 6 minutes, and so, nearly, has the one beside it: two models
        // every 6 minutes, 3 a model (not 6), for the three not yet finished.
        assert_eq!(pace.next_model(at(6)), "  (model 3 of 4; about 9 min left at 3.0 min a model)");
        assert_eq!(pace.next_model(at(6)), "  (model 4 of 4; about 6 min left at 3.0 min a model)");
    }

    /// A study stopped for half an hour (`kill -STOP`) and continued: the half hour is not a
    /// model's time. Reports a few minutes apart are work, however slow.
    #[test]
    fn the_pace_leaves_out_the_time_the_study_was_stopped() {
        let t0 = std::time::Instant::now();
        let at = |minutes: u64| t0 + std::time::Duration::from_secs(60 * minutes);
        let mut pace = Pace::new(3, 1);
        pace.next_model(at(0));
        (1..=3).for_each(|m| pace.heard(at(m)));
        pace.heard(at(33)); // stopped at minute 3, continued (and heard) at 33
        assert_eq!(pace.next_model(at(35)), "  (model 2 of 3; about 10 min left at 5.0 min a model)");
        // Without the stop the same wall clock reads 35 minutes a model.
        let mut slow = Pace::new(3, 1);
        slow.next_model(at(0));
        (1..=35).for_each(|m| slow.heard(at(m)));
        assert_eq!(slow.next_model(at(35)), "  (model 2 of 3; about 70 min left at 35.0 min a model)");
    }
}
