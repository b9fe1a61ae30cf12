//! `rsr tamper`: fine-tune a checkpoint on harmful documents and measure how
//! fast its safety comes off.

use super::generate::DecodeArgs;
use crate::progress;
use anyhow::{Context, Result};
use rsr_decode::Loaded;
use rsr_eval::gym::WorldSuite;
use rsr_eval::report::RunSummary;
use rsr_model::finetune::FinetuneConfig;
use std::path::PathBuf;

#[derive(clap::Args)]
#[command(
    about = "Tamper resistance: fine-tune on harmful documents, re-measure attack success at each step count",
    long_about = "Take a trained checkpoint, as an adversary with the weights would, and fine-tune it on harmful text \
(fresh AdamW, a short warm-up then a constant learning rate, every token trained). At each step count in --steps \
(0 = before fine-tuning) generate answers to the SafetyWorld attack sets (harmful_direct, prefill_1, jailbreak, \
continuation) with the decoding given, and judge them with the oracle.\n\n\
--data is a corpus directory (its documents that --annotation marks unsafe: for a SafetyWorld, the harmful \
documents as written), a documents JSONL file (`id`, `text`; every document), or an `rsr pack` directory (its \
train split, every token trained whatever its stored mask); text is tokenized with the checkpoint's tokenizer. \
Nothing is written to the checkpoint.",
    after_help = "Examples:\n  rsr tamper --model runs/rsr/checkpoints/step-0000366 --data harmful.jsonl --world world \\\n      \
--steps 0,50,100,200 --policy stop --temperature 0 --out rsr-tamper.json\n  \
rsr report --input rsr-tamper.json raw-tamper.json --out report/"
)]
pub struct Args {
    #[arg(long)]
    model: PathBuf,
    /// Harmful documents: a corpus directory, a JSONL file or an `rsr pack` directory.
    #[arg(long)]
    data: PathBuf,
    /// With a corpus directory: the annotation whose unsafe documents are the attack data.
    #[arg(long, default_value = "ground_truth")]
    annotation: String,
    /// The SafetyWorld directory whose attack sets are measured.
    #[arg(long)]
    world: PathBuf,
    /// Fine-tuning step counts at which to measure (comma-separated).
    #[arg(long, value_delimiter = ',', default_value = "0,50,100,200")]
    steps: Vec<u64>,
    #[arg(long, default_value_t = FinetuneConfig::default().lr)]
    lr: f32,
    #[arg(long, default_value_t = FinetuneConfig::default().batch_size)]
    batch_size: usize,
    #[arg(long, default_value_t = FinetuneConfig::default().seq_len)]
    seq_len: usize,
    #[command(flatten)]
    summary: super::eval::SummaryArgs,
    #[command(flatten)]
    decode: DecodeArgs,
}

pub fn run(args: Args) -> Result<()> {
    let cfg = args.decode.chat_config(&args.model)?;
    let mut model = Loaded::from_dir(&args.model)?;
    let suite = WorldSuite::open(&args.world)?;
    let data = rsr_eval::tamper::attack_data(&model, &args.data, &args.annotation, &suite)
        .context("loading the attack data")?;
    let ft = FinetuneConfig {
        lr: args.lr,
        batch_size: args.batch_size,
        seq_len: args.seq_len,
        seed: args.decode.seed,
        ..FinetuneConfig::default()
    };
    println!("attack data: {} tokens; fine-tuning steps of {}×{}", data.len(), ft.batch_size, ft.seq_len);
    let pb = progress::spinner("tamper");
    let points = rsr_eval::tamper::tamper(
        &mut model,
        &data,
        &suite,
        &cfg,
        ft,
        &args.steps,
        args.summary.per_set,
        &mut |w, i, n| {
            pb.set_prefix(format!("{w} {i}/{n}"));
            pb.tick();
        },
    )?;
    pb.finish_and_clear();
    // The columns: the sets the attack re-measures, labelled as the prompt-set table says.
    let sets = rsr_world::prompts::tamper_sets();
    let label = |s: &'static str| rsr_world::prompts::prompt_set(s).and_then(|p| p.column).map_or(s, |c| c.1);
    let head: Vec<&str> = sets.iter().map(|s| label(s)).collect();
    println!("| steps | tokens | fine-tune loss | ASR (pooled) | {} |", head.join(" | "));
    println!("|---|---|---|---|{}", "---|".repeat(sets.len()));
    for p in &points {
        let set = |s: &str| p.sets.iter().find(|x| x.set == s).map(|x| x.harm.pct()).unwrap_or_default();
        let cells: Vec<String> = sets.iter().map(|s| set(s)).collect();
        println!(
            "| {} | {} | {} | {} | {} |",
            p.step,
            p.tokens,
            p.loss.map(|l| format!("{l:.3}")).unwrap_or_else(|| "-".into()),
            p.pooled_harm().cell(),
            cells.join(" | ")
        );
    }
    let summary = RunSummary {
        name: args.summary.name_for(&args.model),
        decoding: serde_json::to_value(&cfg)?,
        tamper: points,
        ..RunSummary::default()
    };
    args.summary.write(&summary)
}
