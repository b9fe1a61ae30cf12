//! `rsr eval`: a checkpoint (or every checkpoint of a run) measured on
//! SafetyWorld, with Wilson intervals.

use super::generate::DecodeArgs;
use crate::progress;
use anyhow::Result;
use rsr_decode::Loaded;
use rsr_eval::report::RunSummary;
use std::path::PathBuf;

#[derive(clap::Args)]
#[command(
    about = "Evaluate a checkpoint on SafetyWorld: attacks, over-refusal, benign accuracy, perplexity, probe",
    long_about = "Generate an answer to every SafetyWorld prompt set (harmful_direct, harmful_composed, prefill_1, \
prefill_2, jailbreak, continuation, lookalike, benign) with the decoding policy given and judge each with the oracle; \
then, on the world's held-out documents, the perplexity of reflection-free text (safe and unsafe documents apart; \
the same text for every variant) and the probe — P(unsafe) after <|reflect|> — at every segment end against the \
ground truth. Every rate comes with a Wilson 95% interval; decode cost is reported too.\n\n\
--model may be one checkpoint or a run directory (`rsr train --out`): with a run, every checkpoint is evaluated in \
order of training tokens — a learning curve (train with --checkpoint-every to get several).\n\n\
Prints Markdown; --out writes a run summary (JSON) that `rsr report` turns into HTML.",
    after_help = "Examples:\n  rsr eval --model runs/rsr/checkpoints/step-0000366 --world world --policy stop --every 16 --temperature 0\n  \
rsr eval --model runs/raw --world world --temperature 0 --per-set 30 --out raw-curve.json   # every checkpoint\n  \
rsr report --input raw-curve.json rsr-curve.json --out report/"
)]
pub struct Args {
    /// A checkpoint directory, or a run directory (every checkpoint: a learning curve).
    #[arg(long)]
    model: PathBuf,
    /// The SafetyWorld directory (`rsr gym --out`).
    #[arg(long)]
    world: PathBuf,
    /// Only the first N prompts of each set (0 = all).
    #[arg(long, default_value_t = 0)]
    per_set: usize,
    /// Name of this run in the summary (default: the run directory's name).
    #[arg(long)]
    name: Option<String>,
    /// Write the run summary as JSON here.
    #[arg(long)]
    out: Option<PathBuf>,
    #[command(flatten)]
    decode: DecodeArgs,
}

/// "runs/rsr/checkpoints/step-0000366" → "rsr"; "runs/raw" → "raw".
pub fn run_name(model: &std::path::Path) -> String {
    let comps: Vec<String> = model.components().map(|c| c.as_os_str().to_string_lossy().into_owned()).collect();
    match comps.iter().rposition(|c| c == "checkpoints") {
        Some(i) if i > 0 => comps[i - 1].clone(),
        _ => comps.last().cloned().unwrap_or_else(|| "model".into()),
    }
}

pub fn run(args: Args) -> Result<()> {
    let mut cfg = args.decode.config();
    if !cfg.stop.iter().any(|s| s == "\nUser:") {
        cfg.stop.push("\nUser:".into());
    }
    let pb = progress::spinner("eval");
    let mut tick = |what: &str, i: usize, n: usize| {
        pb.set_prefix(format!("{what} {i}/{n}"));
        pb.tick();
    };
    let mut summary = RunSummary {
        name: args.name.clone().unwrap_or_else(|| run_name(&args.model)),
        decoding: serde_json::to_value(&cfg)?,
        ..RunSummary::default()
    };
    if rsr_eval::curve::is_run(&args.model) {
        let curve = rsr_eval::curve::curve(&args.model, &args.world, &cfg, args.per_set, &mut tick)?;
        pb.finish_and_clear();
        println!("| tokens | direct ASR | benign correct | look-alike refused | ppl safe | probe AUROC |\n|---|---|---|---|---|---|");
        for p in &curve {
            let r = &p.results;
            let cell = |s: &str, f: fn(&rsr_eval::SetResult) -> &rsr_eval::Rate| {
                r.set(s).map(|x| f(x).cell()).unwrap_or_else(|| "-".into())
            };
            println!(
                "| {} | {} | {} | {} | {} | {} |",
                p.tokens,
                cell("harmful_direct", |x| &x.harm),
                cell("benign", |x| &x.correct),
                cell("lookalike", |x| &x.refused),
                r.heldout.as_ref().map(|h| format!("{:.2}", h.safe.ppl)).unwrap_or_default(),
                r.heldout.as_ref().map(|h| format!("{:.3}", h.probe.segment_auroc)).unwrap_or_default(),
            );
        }
        summary.results = curve.last().map(|p| p.results.clone());
        summary.curve = curve;
    } else {
        let m = Loaded::from_dir(&args.model)?;
        let r = rsr_eval::gym(&m, &args.world, &cfg, args.per_set, &mut tick)?;
        pb.finish_and_clear();
        print!("{}", rsr_eval::markdown(&r));
        summary.results = Some(r);
    }
    if let Some(out) = &args.out {
        rsr_core::atomic::write_all(out, serde_json::to_string_pretty(&summary)?.as_bytes())?;
        println!("wrote {}", out.display());
    }
    Ok(())
}
