//! `rsr eval`: a checkpoint measured on SafetyWorld, with Wilson intervals.

use super::generate::DecodeArgs;
use crate::progress;
use anyhow::Result;
use rsr_decode::Loaded;
use std::path::PathBuf;

#[derive(clap::Args)]
#[command(
    about = "Evaluate a checkpoint on SafetyWorld: attacks, over-refusal, benign accuracy, probe",
    long_about = "Generate an answer to every SafetyWorld prompt set (harmful_direct, harmful_composed, prefill_1, \
prefill_2, jailbreak, continuation, lookalike, benign) with the decoding policy given, judge each with the oracle, \
and score the probe on the held-out documents. Every rate comes with a Wilson 95% interval. Prints a Markdown \
table; --out writes JSON.\n\n\
Not yet here (open work): held-out perplexity on reflection-free text, learning curves over checkpoints, tamper \
resistance, real prompt sets and endpoint judges, the HTML report.",
    after_help = "Examples:\n  rsr eval --model runs/rsr/checkpoints/step-0000366 --world world --policy stop --every 16 --temperature 0\n  \
rsr eval --model runs/raw/checkpoints/step-0000366 --world world --temperature 0 --out raw.json"
)]
pub struct Args {
    #[arg(long)]
    model: PathBuf,
    /// The SafetyWorld directory (`rsr gym --out`).
    #[arg(long)]
    world: PathBuf,
    /// Only the first N prompts of each set (0 = all).
    #[arg(long, default_value_t = 0)]
    per_set: usize,
    /// Write the results as JSON here.
    #[arg(long)]
    out: Option<PathBuf>,
    #[command(flatten)]
    decode: DecodeArgs,
}

pub fn run(args: Args) -> Result<()> {
    let m = Loaded::from_dir(&args.model)?;
    let mut cfg = args.decode.config();
    if !cfg.stop.iter().any(|s| s == "\nUser:") {
        cfg.stop.push("\nUser:".into());
    }
    let pb = progress::spinner("eval");
    let r = rsr_eval::gym(&m, &args.world, &cfg, args.per_set, &mut |set, i, n| {
        pb.set_prefix(format!("{set} {i}/{n}"));
        pb.tick();
    })?;
    pb.finish_and_clear();
    print!("{}", rsr_eval::markdown(&r));
    if let Some(out) = &args.out {
        let json = serde_json::json!({ "model": args.model, "world": args.world, "decoding": cfg, "results": r });
        rsr_core::atomic::write_all(out, serde_json::to_string_pretty(&json)?.as_bytes())?;
        println!("wrote {}", out.display());
    }
    Ok(())
}
