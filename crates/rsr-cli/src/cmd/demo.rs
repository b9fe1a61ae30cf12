//! `rsr demo`: the main job — one seed of the study ([`rsr_eval::experiment::run_seed`]),
//! printed as it goes.

use super::ExperimentArgs;
use crate::progress;
use anyhow::Result;
use rsr_eval::experiment::{self, ExperimentConfig, Stage};
use rsr_eval::report::console;
use std::path::PathBuf;

#[derive(clap::Args)]
#[command(
    about = "Run the main job on SafetyWorld: world → variants → shards → one model each → evaluation",
    long_about = "Generate a SafetyWorld, train a tokenizer on it, build the raw / filter / rewrite / refuse / tag / rsr \
variants from the same ground-truth annotations at the same cadence, pack each into shards with loss masks, \
and print a table of what each variant trains on: documents kept, tokens (and their ratio to raw), the masked \
share, reflections, and how much unsafe text remains trainable.\n\n\
Then it trains one model per variant at the same token budget (--train-tokens; 0 skips), evaluates each on \
every SafetyWorld prompt set with the oracle judge (rsr decoding with the `stop` policy, tag conditioned on \
<|safe|> at every segment start, the others plainly), and every variant again at matched over-refusal (each \
monitor's θ chosen by one rule on a validation half), and prints the comparison; rsr-demo/results.md has every rate with its Wilson \
interval. The numbers are whatever the models do. The demo is one seed of `rsr study`.",
    after_help = "Examples:\n  rsr demo\n  rsr demo --resume            # after a stop: keep what the stopped demo finished\n  rsr demo --out /tmp/rsr-demo --train-tokens 4000000\n  rsr demo --train-tokens 0    # corpus side only, seconds"
)]
pub struct Args {
    /// Where to write the world and the variants.
    #[arg(long, default_value = "rsr-demo")]
    out: PathBuf,
    #[arg(long, default_value_t = 0)]
    seed: u64,
    #[command(flatten)]
    experiment: ExperimentArgs,
    /// rsr: fraction of unsafe reflections that carry a rationale (the demo measures verdicts).
    #[arg(long, default_value_t = 0.0)]
    rationale_rate: f64,
    /// Checkpoints per run for the learning curves (1: the final one only, no curve).
    #[arg(long, default_value_t = ExperimentConfig::default().curve_points)]
    curve_points: usize,
    /// Prompts per set at each learning-curve and tamper point.
    #[arg(long, default_value_t = ExperimentConfig::default().curve_per_set)]
    curve_per_set: usize,
    /// Tamper test: fine-tuning steps (batch 8×128) on the world's unsafe documents after which
    /// attack success is measured; "0" alone skips it.
    #[arg(long, value_delimiter = ',', default_value = "0,25,50,100")]
    tamper_steps: Vec<u64>,
    /// Keep what an earlier demo in --out finished with the same settings — the corpora, each
    /// trained model, each model's evaluation — and do only the rest (a training stopped
    /// part-way continues from its latest checkpoint, to the same bits). A directory made with
    /// other settings is refused (its `demo.json` says which). Without it, the demo starts over.
    #[arg(long)]
    resume: bool,
}

pub fn run(args: Args) -> Result<()> {
    let cfg = args.experiment.apply(ExperimentConfig {
        out: args.out.clone(),
        seed: args.seed,
        rationale_rate: args.rationale_rate,
        curve_points: args.curve_points,
        curve_per_set: args.curve_per_set,
        tamper_steps: args.tamper_steps.clone(),
        resume: args.resume,
        ..ExperimentConfig::default()
    });
    cfg.validate()?;
    let pb = progress::spinner("demo");
    let seed = experiment::run_seed(&cfg, &mut |s| match s {
        Stage::Corpora(rows) => pb.suspend(|| {
            println!("world:     {}", cfg.world_dir().display());
            let vocab = rsr_pack::tokenizer::RsrTokenizer::load(&cfg.tokenizer_path()).map(|t| t.vocab_size());
            println!("tokenizer: {} (vocab {})", cfg.tokenizer_path().display(), vocab.unwrap_or_default());
            print!("{}", console::corpora(rows));
            println!("variants: {}   shards: {}", cfg.out.join("variants").display(), cfg.out.join("packed").display());
        }),
        s => {
            pb.set_prefix(match s {
                Stage::World(d, n) => format!("world {d}/{n} documents"),
                Stage::Variant(name, d) => format!("variant {name}: {d} documents"),
                Stage::Train(name, step, steps) => format!("train {name}: step {step}/{steps}"),
                Stage::Eval(name, what, i, n) => format!("eval {name}: {what} {i}/{n}"),
                Stage::Corpora(_) => unreachable!("printed above"),
            });
            pb.tick();
        }
    })?;
    pb.finish_and_clear();
    let Some(results) = seed.results else { return Ok(()) };
    let (gates, passed) = (&results.calibration.gates, results.calibration.passed);
    print!("{}", console::gates(gates, passed));
    println!(
        "\nequal compute: {} tokens of `{}` per variant; greedy decoding{}; rsr decodes with `stop` every {} tokens; tag conditioned on \
<|safe|> at every segment start, <|unsafe|> banned",
        cfg.train_tokens,
        cfg.preset,
        cfg.answer_length(),
        cfg.every
    );
    print!("{}", console::results(&results.runs, cfg.tamper_steps.iter().max().copied().unwrap_or(0)));
    print!("{}", console::operating(&results.runs));
    let at_once = experiment::at_once_count(cfg.jobs, results.runs.len() + cfg.control as usize);
    print!("{}", console::timings(&results.runs, at_once));
    results.write(&cfg.out.join("results.json"))?;
    let notes = format!(
        "rsr demo: {} SafetyWorld documents, variants built from the `{}` labels, one `{}` model per variant trained on \
{} tokens (equal compute), greedy decoding{}; rsr with the `stop` policy every {} tokens, tag conditioned on <|safe|> at \
every segment start.{}",
        cfg.docs,
        cfg.labels(),
        cfg.preset,
        cfg.train_tokens,
        cfg.answer_length(),
        cfg.every,
        console::gate_notes(gates, passed)
    );
    let title = "rsr demo: Regular Safety Reflection vs the baselines";
    let report = rsr_eval::report::write(&cfg.out, title, &notes, &results.runs)?;
    std::fs::rename(cfg.out.join("report.md"), cfg.out.join("results.md"))
        .map_err(|e| rsr_core::Error::io(cfg.out.join("results.md"), e))?;
    println!("report: {}   (Markdown: {})", report.display(), cfg.out.join("results.md").display());
    Ok(())
}
