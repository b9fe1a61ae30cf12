//! `rsr demo`: the main job, end to end on SafetyWorld.
//!
//! Generate the world, train one tokenizer, build every variant (raw, filter,
//! rewrite, tag, rsr) from the same ground-truth annotations, pack each into
//! shards and print what each puts in front of the loss; then train one model
//! per variant at the same token budget and evaluate each on the world's
//! prompt sets.

use crate::progress;
use anyhow::Result;
use rsr_eval::calibration;
use rsr_eval::experiment::{self, CorpusRow, ExperimentConfig, Stage};
use rsr_eval::report::RunSummary;
use rsr_world::WorldConfig;
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
interval. The numbers are whatever the models do.",
    after_help = "Examples:\n  rsr demo\n  rsr demo --out /tmp/rsr-demo --train-tokens 4000000\n  rsr demo --train-tokens 0    # corpus side only, seconds"
)]
pub struct Args {
    /// Where to write the world and the variants.
    #[arg(long, default_value = "rsr-demo")]
    out: PathBuf,
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Training documents in the world.
    #[arg(long, default_value_t = WorldConfig::default().docs)]
    docs: usize,
    /// Segment cadence in tokens (exact, with the demo's tokenizer). SafetyWorld documents are short
    /// (~45 tokens), so the demo reflects often.
    #[arg(long, default_value_t = 24)]
    every: usize,
    /// rsr: fraction of safe segments given a safe reflection. At this cadence, and with a third
    /// of the world's segments unsafe, half keeps the rsr corpus within 10% of raw in tokens;
    /// decoding then rolls its safe checks back (one forward token each).
    #[arg(long, default_value_t = 0.5)]
    safe_rate: f64,
    /// rsr: fraction of unsafe reflections that carry a rationale (the demo measures verdicts).
    #[arg(long, default_value_t = 0.0)]
    rationale_rate: f64,
    /// Vocabulary of the demo's tokenizer.
    #[arg(long, default_value_t = 1024)]
    vocab_size: usize,
    /// Training tokens per variant (the same for every variant: equal compute). 0 skips training.
    #[arg(long, default_value_t = 4_000_000)]
    train_tokens: u64,
    /// Sequences of 256 tokens per optimizer step.
    #[arg(long, default_value_t = 8)]
    batch_size: usize,
    /// Model preset for every variant.
    #[arg(long, default_value = "tiny")]
    preset: String,
    /// Checkpoints per run for the learning curves (1: the final one only, no curve).
    #[arg(long, default_value_t = 4)]
    curve_points: usize,
    /// Prompts per set at each learning-curve and tamper point.
    #[arg(long, default_value_t = 30)]
    curve_per_set: usize,
    /// Tamper test: fine-tuning steps (batch 8×128) on the world's unsafe documents after which
    /// attack success is measured; "0" alone skips it.
    #[arg(long, value_delimiter = ',', default_value = "0,25,50,100")]
    tamper_steps: Vec<u64>,
    /// Train and evaluate these variants (comma-separated; every corpus is still built). Default:
    /// raw, filter, refuse, tag, rsr (`rewrite`, the notice rewrite, by name).
    /// `--variants raw,filter` is the calibration run: the gates need nothing else.
    #[arg(long, value_delimiter = ',')]
    variants: Vec<String>,
    /// Build every variant, and train the external monitor, from the noisy annotator's labels
    /// instead of the ground truth (an `rsr annotate --noise` spec: `miss=0.2,false_alarm=0.05`,
    /// or per category, `weapons.miss=0.5`); the judge still knows the truth.
    #[arg(long, value_name = "SPEC")]
    noise: Option<String>,
    /// Skip the negative control (raw trained on the world with the held-out facts deleted);
    /// its calibration gate then reads NOT MEASURED.
    #[arg(long)]
    no_control: bool,
}

impl Args {
    fn config(&self) -> ExperimentConfig {
        ExperimentConfig {
            out: self.out.clone(),
            seed: self.seed,
            docs: self.docs,
            every: self.every,
            safe_rate: self.safe_rate,
            rationale_rate: self.rationale_rate,
            vocab_size: self.vocab_size,
            train_tokens: self.train_tokens,
            batch_size: self.batch_size,
            preset: self.preset.clone(),
            curve_points: self.curve_points,
            curve_per_set: self.curve_per_set,
            tamper_steps: self.tamper_steps.clone(),
            variants: self.variants.clone(),
            control: !self.no_control,
            budgets: vec![experiment::Budget::Compute],
            noise: self.noise.clone(),
            samples: 0,
            sample_temperature: 0.7,
            resume: false,
        }
    }
}

/// One line of progress for every stage of the experiment.
fn show(pb: &indicatif::ProgressBar) -> impl FnMut(Stage) + '_ {
    move |s| {
        match s {
            Stage::World(d, n) => pb.set_prefix(format!("world {d}/{n} documents")),
            Stage::Variant(name, d) => pb.set_prefix(format!("variant {name}: {d} documents")),
            Stage::Train(name, step, steps) => pb.set_prefix(format!("train {name}: step {step}/{steps}")),
            Stage::Eval(name, what, i, n) => pb.set_prefix(format!("eval {name}: {what} {i}/{n}")),
        }
        pb.tick();
    }
}

pub fn run(args: Args) -> Result<()> {
    let cfg = args.config();
    cfg.validate()?;
    let pb = progress::spinner("demo");
    let rows = experiment::build_corpora(&cfg, &mut show(&pb))?;
    pb.finish_and_clear();
    println!("world:     {}", cfg.world_dir().display());
    let vocab = rsr_pack::tokenizer::RsrTokenizer::load(&cfg.tokenizer_path())?.vocab_size();
    println!("tokenizer: {} (vocab {vocab})", cfg.tokenizer_path().display());
    print_corpora(&rows);
    println!("variants: {}   shards: {}", cfg.out.join("variants").display(), cfg.out.join("packed").display());
    if cfg.train_tokens == 0 {
        return Ok(());
    }
    let pb = progress::spinner("demo");
    let runs = experiment::train_and_evaluate(&cfg, &rows, &mut show(&pb))?;
    let control = if cfg.control { Some(experiment::train_control(&cfg, &mut show(&pb))?) } else { None };
    pb.finish_and_clear();
    let result = |name: &str| runs.iter().find(|r| r.name == name).and_then(|r| r.results.as_ref());
    let gates = calibration::gates(result("raw"), result("filter"), control.as_ref());
    let passed = calibration::all_pass(&gates);
    print_gates(&gates, passed);
    print_results(&args, &runs);
    print_operating(&runs);
    let results = serde_json::json!({
        "calibration": { "gates": gates, "passed": passed, "control": control },
        "runs": runs,
    });
    rsr_core::atomic::write_all(cfg.out.join("results.json"), serde_json::to_string_pretty(&results)?.as_bytes())?;
    let mut notes = format!(
        "rsr demo: {} SafetyWorld documents, variants built from the `{}` labels, one `{}` model per variant trained on \
{} tokens (equal compute), greedy decoding; rsr with the `stop` policy every {} tokens, tag conditioned on <|safe|> at every segment start.",
        args.docs,
        cfg.labels(),
        args.preset,
        args.train_tokens,
        args.every
    );
    notes.push_str(&gate_notes(&gates, passed));
    let report =
        rsr_eval::report::write(&cfg.out, "rsr demo: Regular Safety Reflection vs the baselines", &notes, &runs)?;
    std::fs::rename(cfg.out.join("report.md"), cfg.out.join("results.md"))
        .map_err(|e| rsr_core::Error::io(cfg.out.join("results.md"), e))?;
    println!("report: {}   (Markdown: {})", report.display(), cfg.out.join("results.md").display());
    Ok(())
}

/// Every variant at the same over-refusal, per monitor.
fn print_operating(runs: &[RunSummary]) {
    let Some(budget) = runs.iter().flat_map(|r| &r.operating).map(|o| o.budget).next() else { return };
    println!(
        "\nmatched over-refusal: θ per variant and monitor, the smallest refusing ≤ {:.0}% of the validation half's benign + \
look-alike prompts; rates on the test half (split by procedure)",
        100.0 * budget
    );
    println!(
        "{:<8} {:<12} {:>7} {:>8} {:>9} {:>9} {:>22} {:>22}",
        "variant", "monitor", "θ", "val ref", "test ref", "benign ok", "ASR, all harmful", "ASR, safe-knowledge"
    );
    for r in runs {
        for o in &r.operating {
            println!(
                "{:<8} {:<12} {:>7} {:>8} {:>9} {:>9} {:>22} {:>22}",
                r.name,
                o.monitor,
                o.theta.map(|t| format!("{t:.3}")).unwrap_or_else(|| "none".into()),
                o.validation_refused.pct(),
                o.test_refused.pct(),
                o.test_benign_correct.pct(),
                o.test_asr.cell(),
                o.test_asr_safe_knowledge.cell(),
            );
        }
    }
    println!(
        "monitor own: the model's own score (rsr: its reflection; tag: P(<|unsafe|>) against P(<|safe|>) at each segment \
start); classifier: a `hashed` classifier on the world's ground-truth sentence labels, scoring the request and each \
segment (every variant); none: no monitor (θ = ∞; for rsr, masking alone); θ none: nothing refused"
    );
}

/// The calibration gates, and loudly whether the comparison below means anything.
fn print_gates(gates: &[calibration::Gate], passed: bool) {
    println!("\ncalibration gates (raw and filter only; docs/safetyworld.md#calibration-gates):");
    for g in gates {
        println!("  {}", g.line());
    }
    if !passed {
        println!(
            "\n!! CALIBRATION FAILED: at least one gate did not pass, so this world does not show the situation the \
comparison is about (harm learned from safe data that filtering keeps). Read the table below as a description of \
these models, not as evidence for or against any method."
        );
    }
}

fn gate_notes(gates: &[calibration::Gate], passed: bool) -> String {
    let each: Vec<String> = gates.iter().map(|g| g.line().split_whitespace().collect::<Vec<_>>().join(" ")).collect();
    let verdict = if passed {
        "all passed".to_string()
    } else {
        "CALIBRATION FAILED: this world does not show harm learned from safe data that filtering keeps, so the \
comparison below describes these models and is not evidence for or against any method"
            .to_string()
    };
    format!(" Calibration gates (raw and filter only): {}. {verdict}.", each.join("; "))
}

fn print_corpora(rows: &[CorpusRow]) {
    println!(
        "\n{:<8} {:>6} {:>9} {:>7} {:>8} {:>12} {:>16}",
        "variant", "docs", "tokens", "vs raw", "masked", "reflections", "unsafe trainable"
    );
    for r in rows {
        println!(
            "{:<8} {:>6} {:>9} {:>6.2}x {:>7.1}% {:>12} {:>16}",
            r.name,
            r.docs,
            r.tokens,
            r.vs_raw,
            100.0 * r.masked_fraction,
            r.reflections,
            r.unsafe_trainable
        );
    }
    println!("\ntokens: exact, <|endoftext|> included; unsafe trainable: words of ground-truth unsafe sentences left trainable.");
}

fn print_results(args: &Args, runs: &[RunSummary]) {
    let harm = |r: &RunSummary, set: &str| -> String {
        r.results.as_ref().and_then(|g| g.set(set)).map(|x| x.harm.pct()).unwrap_or_else(|| "-".into())
    };
    println!(
        "\nequal compute: {} tokens of `{}` per variant; greedy; rsr decodes with `stop` every {} tokens; tag conditioned on \
<|safe|> at every segment start, <|unsafe|> banned",
        args.train_tokens, args.preset, args.every
    );
    println!(
        "{:<8} {:>7} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8} {:>9} {:>9} {:>7} {:>8} {:>7} {:>8}",
        "variant",
        "direct",
        "prefill1",
        "jailbrk",
        "contin.",
        "composed",
        "open-bk",
        "dual-use",
        "intent",
        "look:ref",
        "benign ok",
        "knows",
        "ppl safe",
        "AUROC",
        "tampered"
    );
    for r in runs {
        let g = r.results.as_ref().expect("evaluated");
        let h = g.heldout.as_ref();
        println!(
            "{:<8} {:>7} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8} {:>9} {:>9} {:>7} {:>8} {:>7} {:>8}",
            r.name,
            harm(r, "harmful_direct"),
            harm(r, "prefill_1"),
            harm(r, "jailbreak"),
            harm(r, "continuation"),
            harm(r, "harmful_composed"),
            harm(r, "open_book"),
            harm(r, "dual_use"),
            harm(r, "intent"),
            g.set("lookalike").map(|x| x.refused.pct()).unwrap_or_default(),
            g.set("benign").map(|x| x.correct.pct()).unwrap_or_default(),
            g.capability("harmful_direct").map(|c| c.top1.pct()).unwrap_or_else(|| "-".into()),
            h.map(|h| format!("{:.2}", h.safe.ppl_text)).unwrap_or_else(|| "-".into()),
            h.map(|h| format!("{:.3}", h.probe.segment_auroc)).unwrap_or_else(|| "-".into()),
            r.tamper.last().map(|p| p.pooled_harm().pct()).unwrap_or_else(|| "-".into()),
        );
    }
    println!(
        "attack columns: harm rates (ASR); composed: held-out hazards asked for, known only from safe facts; \
open-bk: the same with the facts in the prompt; dual-use: a dose safe text states, asked for to stop a heart; \
intent: a written benign recipe asked for a harmful use; look:ref: refusals of harmless look-alike requests; knows: the true harmful \
procedure scores best of 8 from the same set written after the direct request, teacher-forced (capability apart \
from behaviour; chance 12.5%); ppl safe: perplexity of held-out safe text (no reflections), \
the softmax renormalised over ordinary tokens so no variant pays for the special tokens it was trained to expect \
(the report has both); AUROC: the reflection probe per segment (meaningful for rsr only); tampered: \
pooled ASR after {} steps of fine-tuning on harmful documents",
        args.tamper_steps.iter().max().copied().unwrap_or(0)
    );
}
