//! `rsr train`: pretrain a Llama-style model on packed shards, honouring the loss mask.

use crate::progress;
use anyhow::Result;
use rsr_model::train::{FirstPhase, TrainConfig, Trainer};
use std::path::PathBuf;

#[derive(clap::Args)]
#[command(
    about = "Pretrain a Llama-style model on packed shards (CPU; CUDA with --features cuda), with the loss mask applied",
    long_about = "Train a decoder-only transformer with the Llama architecture (RMSNorm, RoPE, SwiGLU, tied \
embeddings for the CPU presets) on the shards of `rsr pack`, with AdamW, linear warm-up + cosine (or warmup–stable–decay) schedule and \
gradient clipping. Masked tokens contribute nothing to the loss or the gradient.\n\n\
Writes RUN/metrics.jsonl (step, tokens, loss, val_loss, lr, tok/s, grad_norm), checkpoints under \
RUN/checkpoints/step-N/ as model.safetensors + config.json + tokenizer.json (loadable as LlamaForCausalLM in \
Hugging Face transformers) with optimizer state for exact resume, and RUN/manifest.json.\n\n\
Presets: tiny (~1M parameters at a 2k vocabulary: d=128, 4 layers), small (~5M at 4k: d=256, 5 layers), \
base (~110M at 32k: d=768, 12 layers; meant for GPUs); any of them reshaped with `,heads=N`, `,layers=N`, \
`,hidden=N`, `,intermediate=N` (`--preset tiny,heads=8`), and the parameter count printed at the start.\n\n\
Devices: --device cpu runs rsr's own forward/backward kernels (the default, and the fastest on a CPU); \
--device cuda runs the same model written with candle on GPU 0 (build with \
`cargo build --release -p rsr-cli --features cuda`); --device candle-cpu runs that GPU code path on the CPU, \
to check it. A test keeps the two implementations equal (logits, loss, every gradient, AdamW steps).",
    after_help = "Examples:\n  rsr train --data world-rsr-packed --preset tiny --tokens 2000000 --out runs/rsr\n  \
rsr train --resume --out runs/rsr                   # continue from the latest checkpoint\n  \
rsr train --first-data world-packed --first-tokens 1000000 --data world-rsr-packed --tokens 2000000 --out runs/continued\n  \
rsr train --data world-rsr-packed --overwrite --out runs/rsr   # delete the run in runs/rsr, start over\n  \
rsr train --data packed --preset base --batch-size 8 --seq-len 1024 --tokens 1000000000 --device cuda --out runs/base   # ~60 GB"
)]
pub struct Args {
    /// The `rsr pack` output directory (train/, val/, tokenizer.json).
    #[arg(long, required_unless_present = "resume")]
    data: Option<PathBuf>,
    /// Run directory.
    #[arg(long)]
    out: PathBuf,
    /// tiny, small or base; reshaped with `,KEY=VALUE` (keys hidden, layers, heads, intermediate),
    /// e.g. `tiny,heads=8` (the same parameters, heads of 16) or `tiny,layers=2,hidden=176,intermediate=472`.
    #[arg(long, default_value = "tiny")]
    preset: String,
    /// Token budget (inputs seen, masked or not).
    #[arg(long, default_value_t = TrainConfig::default().tokens)]
    tokens: u64,
    #[arg(long, default_value_t = TrainConfig::default().batch_size)]
    batch_size: usize,
    #[arg(long, default_value_t = TrainConfig::default().seq_len)]
    seq_len: usize,
    /// Peak learning rate.
    #[arg(long, default_value_t = TrainConfig::default().lr)]
    lr: f32,
    /// Warm-up, as a fraction of all steps.
    #[arg(long, default_value_t = TrainConfig::default().warmup)]
    warmup: f32,
    /// The learning rate after warm-up: `cosine` (decay to 10% of the peak over the run) or `wsd`
    /// (warmup–stable–decay: the peak held, then a linear decay over the last --decay of the steps).
    #[arg(long, default_value = "cosine", value_parser = ["cosine", "wsd"])]
    schedule: String,
    /// With `--schedule wsd`: the final decay, as a fraction of all steps.
    #[arg(long, default_value_t = TrainConfig::default().decay)]
    decay: f32,
    /// Train to a plateau (with `--schedule wsd` and `--eval-every`): hold the peak rate until
    /// the validation loss has not improved by 0.5% for this many validations in a row, then
    /// decay and stop; --tokens is the cap.
    #[arg(long, value_name = "PATIENCE")]
    plateau: Option<u32>,
    #[arg(long, default_value_t = TrainConfig::default().weight_decay)]
    weight_decay: f32,
    /// Clip the global gradient norm to this (0: off).
    #[arg(long, default_value_t = TrainConfig::default().grad_clip)]
    grad_clip: f32,
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Validate every N steps (0: at the end only).
    #[arg(long, default_value_t = TrainConfig::default().eval_every)]
    eval_every: u64,
    /// Save a checkpoint every N tokens (0: at the end only).
    #[arg(long, default_value_t = 0)]
    checkpoint_every: u64,
    /// Continued pretraining: read the first --first-tokens of the budget from this pack (packed
    /// with the same tokenizer as --data, e.g. the raw corpus), then go on with --data under the
    /// same learning-rate schedule.
    #[arg(long, requires = "first_tokens", value_name = "PACK")]
    first_data: Option<PathBuf>,
    /// With --first-data: how many of the --tokens read it (whole steps).
    #[arg(long, requires = "first_data")]
    first_tokens: Option<u64>,
    /// Continue the run in --out from its latest checkpoint (other flags are read from RUN/run.json).
    #[arg(long, conflicts_with = "overwrite")]
    resume: bool,
    /// --out already holds a run: delete its checkpoints, metrics and run.json and start over
    /// (without this, or --resume, an existing run is an error).
    #[arg(long)]
    overwrite: bool,
    /// Where the steps run: `cpu` (rsr's own kernels, the fastest on a CPU), `cuda` (the same model on
    /// candle, GPU 0; needs a build with `--features cuda`), or `candle-cpu` (the GPU code path on the
    /// CPU, to check it). Validation and checkpoints are the same for all three.
    #[arg(long, value_enum, default_value = "cpu")]
    device: Device,
}

#[derive(Clone, Copy, PartialEq, clap::ValueEnum)]
enum Device {
    Cpu,
    Cuda,
    CandleCpu,
}

pub fn run(args: Args) -> Result<()> {
    let threads = rayon::current_num_threads();
    let cfg = TrainConfig {
        data: args.data.clone().unwrap_or_default(),
        preset: args.preset,
        tokens: args.tokens,
        batch_size: args.batch_size,
        seq_len: args.seq_len,
        lr: args.lr,
        warmup: args.warmup,
        schedule: args.schedule.parse().map_err(anyhow::Error::msg)?,
        decay: args.decay,
        plateau: args.plateau,
        weight_decay: args.weight_decay,
        grad_clip: args.grad_clip,
        seed: args.seed,
        eval_every: args.eval_every,
        checkpoint_every: args.checkpoint_every,
        first: args.first_data.clone().zip(args.first_tokens).map(|(data, tokens)| FirstPhase { data, tokens }),
        ..TrainConfig::default()
    };
    // Pick the device before anything is written under --out.
    let device = if args.device == Device::Cpu {
        None
    } else {
        Some(rsr_candle::device(args.device == Device::Cuda).map_err(|e| {
            let hint = if cfg!(feature = "cuda") {
                "is a GPU visible to this process? `nvidia-smi` should list it"
            } else {
                "this binary was built without CUDA: `cargo build --release -p rsr-cli --features cuda`"
            };
            anyhow::anyhow!("--device cuda: {e} ({hint})")
        })?)
    };
    for data in args.data.iter().chain(&args.first_data) {
        rsr_core::atomic::check_out_apart(data, &args.out)?;
    }
    if !args.resume {
        rsr_model::train::prepare_new_run(&args.out, args.overwrite)?;
    }
    let mut trainer = Trainer::new(&args.out, cfg, args.resume)?;
    if let Some(device) = device {
        let (clip, step, seq_len) = (trainer.cfg.grad_clip, trainer.step, trainer.cfg.seq_len);
        trainer.set_engine(|model, m, v, opt| {
            let e = rsr_candle::Engine::new(model, m, v, opt, clip, step, seq_len, device)
                .map_err(|e| rsr_core::Error::Invalid(format!("candle: {e}")))?;
            Ok(Box::new(e) as Box<dyn rsr_model::train::StepEngine>)
        })?;
    }
    let steps = trainer.cfg.steps();
    println!(
        "model: {} parameters ({} layers, d={}, vocab {}); {} steps of {}×{} tokens on {} ({threads} threads)",
        trainer.model.num_params(),
        trainer.model.cfg.num_hidden_layers,
        trainer.model.cfg.hidden_size,
        trainer.model.cfg.vocab_size,
        steps,
        trainer.cfg.batch_size,
        trainer.cfg.seq_len,
        trainer.device()
    );
    let pb = progress::bar(steps, "train");
    pb.set_position(trainer.step);
    let m = trainer.run(&mut |m| {
        pb.set_position(m.step);
        let val = m.val_loss.map(|v| format!(" val {v:.3}")).unwrap_or_default();
        pb.set_message(format!("loss {:.3}{val}", m.loss));
    })?;
    pb.finish_and_clear();
    let c = &m.counts;
    println!(
        "trained {} steps ({} tokens): loss {:.4}, val loss {}; {:.0} tokens/s; checkpoint {}",
        c.steps,
        c.tokens,
        c.final_loss.unwrap_or(f32::NAN),
        c.final_val_loss.map(|v| format!("{v:.4}")).unwrap_or_else(|| "-".into()),
        m.timing.tokens_per_s,
        c.checkpoint.display()
    );
    Ok(())
}
