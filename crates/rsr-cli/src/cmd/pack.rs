//! `rsr pack`: transform output → token shards with a loss mask per token.

use crate::progress;
use anyhow::Result;
use clap::ValueEnum;
use rsr_core::corpus::CorpusDir;
use rsr_pack::pack::PackConfig;
use rsr_pack::shard::Dtype;
use rsr_pack::tokenizer::RsrTokenizer;
use std::path::PathBuf;

#[derive(Clone, Copy, ValueEnum)]
pub enum DtypeArg {
    Auto,
    U16,
    U32,
}

#[derive(clap::Args)]
#[command(
    about = "Tokenize transform output into shards with a loss mask per token",
    long_about = "Tokenize a corpus directory (normally `rsr transform` output) into rsr shards: tokens \
(uint16 when the vocabulary fits, else uint32), one loss-mask byte per token (1 = trained as a target, \
0 = masked), and a document index; <|endoftext|> follows every document. Documents are split into \
train/ and val/ by a seeded hash of their id.\n\n\
The mask comes from the documents' masked byte ranges through the tokenizer's byte offsets: a token with \
any masked byte is masked. Special tokens come only from text the transform inserted; reflection markers \
and <|endoftext|> are always trainable. The run stops if a masked span would vanish or if no text token \
stays trainable. Format: docs/formats.md#shards; read one with `rsr inspect`, convert with `rsr export`.",
    after_help = "Examples:\n  rsr pack --input world-rsr --tokenizer world/tokenizer.json --out world-rsr-packed\n  \
rsr pack --input world-rsr --tokenizer tokenizer.json --out packed --shard-tokens 100000000 --val-fraction 0.01"
)]
pub struct Args {
    /// Corpus directory to pack (transform output, or plain documents).
    #[arg(long)]
    input: PathBuf,
    /// A Hugging Face tokenizer.json (e.g. from `rsr tokenizer train`).
    #[arg(long)]
    tokenizer: PathBuf,
    /// Output directory: train/, val/, tokenizer.json, manifest.json.
    #[arg(long)]
    out: PathBuf,
    /// Tokens per shard (documents are not split across shards).
    #[arg(long, default_value_t = PackConfig::default().shard_tokens)]
    shard_tokens: usize,
    /// Fraction of documents held out for validation.
    #[arg(long, default_value_t = PackConfig::default().val_fraction)]
    val_fraction: f64,
    /// Seed of the train/validation split.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Token width: auto picks uint16 when the vocabulary fits.
    #[arg(long, value_enum, default_value = "auto")]
    dtype: DtypeArg,
    /// Stop at the first bad record instead of counting and skipping it.
    #[arg(long)]
    strict: bool,
    /// Write SPLIT/shard_NNNNN.scores.f16 beside each shard: one little-endian f16 per token, the
    /// safety score of the segment it came from (input from `rsr transform --scores`; 0 for
    /// reflections, tags and <|endoftext|>), so a trainer can choose its own threshold at load
    /// time. The manifest records each split's sha256 of them.
    #[arg(long)]
    scores: bool,
    /// Threads that tokenize and mask (0: one per core). The output is the same for any number.
    #[arg(long, default_value_t = 0)]
    threads: usize,
}

pub fn run(args: Args) -> Result<()> {
    let tok = RsrTokenizer::load(&args.tokenizer)?;
    let cfg = PackConfig {
        shard_tokens: args.shard_tokens.max(1),
        val_fraction: args.val_fraction,
        seed: args.seed,
        dtype: match args.dtype {
            DtypeArg::Auto => None,
            DtypeArg::U16 => Some(Dtype::U16),
            DtypeArg::U32 => Some(Dtype::U32),
        },
        strict: args.strict,
        scores: args.scores,
        ..PackConfig::default()
    };
    let pool = rayon::ThreadPoolBuilder::new().num_threads(args.threads).build()?;
    let pb = progress::spinner("pack");
    let m = pool.install(|| {
        rsr_pack::pack::pack(&CorpusDir::new(&args.input), &args.out, &tok, &cfg, &mut |p| progress::show_files(&pb, p))
    })?;
    pb.finish_and_clear();
    for w in &m.counts.warnings {
        eprintln!("warning: {w}");
    }
    for (split, c) in [("train", &m.counts.splits.train), ("val", &m.counts.splits.val)] {
        println!(
            "{split:<5} {} documents, {} tokens in {} shard(s), {:.1}% masked, {} reflections",
            c.docs,
            c.tokens,
            c.shards,
            100.0 * c.masked_fraction,
            c.reflections
        );
    }
    if !tok.added_specials.is_empty() {
        println!("added special tokens to the tokenizer: {}", tok.added_specials.join(" "));
    }
    println!("wrote {} ({:.0} tokens/s)", args.out.display(), m.timing.tokens_per_s);
    Ok(())
}
