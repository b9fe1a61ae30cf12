//! `rsr inspect SHARD`: header, counts, masked fraction, and a decoded sample
//! with masked text made visible.

use anyhow::{Context, Result};
use rsr_pack::pack::SPLITS;
use rsr_pack::shard::Shard;
use rsr_pack::tokenizer::RsrTokenizer;
use std::path::{Path, PathBuf};

#[derive(clap::Args)]
#[command(
    about = "Show a shard: header, counts, masked fraction, a decoded sample",
    long_about = "Print a shard's header and counts, then decode documents with the loss mask made visible: \
masked (untrained) text is shown between ⟦ and ⟧. Without --doc it shows the first documents that have \
masked text (or the first documents, when none has).",
    after_help = "Examples:\n  rsr inspect packed/train/shard_00000.bin\n  rsr inspect packed/train/shard_00000.bin --doc 12 --docs 3"
)]
pub struct Args {
    /// The shard file.
    shard: PathBuf,
    /// tokenizer.json to decode with (default: the one beside the pack directory).
    #[arg(long)]
    tokenizer: Option<PathBuf>,
    /// First document to show (default: the first documents with masked text).
    #[arg(long)]
    doc: Option<usize>,
    /// How many documents to show.
    #[arg(long, default_value_t = 2)]
    docs: usize,
}

fn find_tokenizer(shard: &Path) -> Option<PathBuf> {
    shard.ancestors().skip(1).take(3).map(|d| d.join("tokenizer.json")).find(|p| p.is_file())
}

pub fn run(args: Args) -> Result<()> {
    let s = Shard::read(&args.shard)?;
    let masked = s.mask.iter().filter(|&&m| m == 0).count();
    println!("{}", args.shard.display());
    println!("  format      rsr shard v{} ({:?} tokens)", rsr_pack::shard::VERSION, s.dtype);
    println!("  vocab size  {}", s.vocab_size);
    println!("  documents   {}", s.n_docs());
    println!("  tokens      {}", s.tokens.len());
    println!("  masked      {masked} ({:.2}%)", 100.0 * masked as f64 / s.tokens.len().max(1) as f64);
    // A shard inside a pack: its whole split must match what `rsr pack` recorded.
    let split = args.shard.parent().filter(|d| d.file_name().is_some_and(|n| SPLITS.iter().any(|s| n == *s)));
    if let Some((pack_dir, split)) = split.and_then(|d| Some((d.parent()?, d.file_name()?.to_str()?))) {
        if pack_dir.join("manifest.json").is_file() {
            rsr_pack::pack::verify_split(pack_dir, split)?;
            println!("  mask        the {split} split matches the pack's manifest (counts and sha256)");
        }
    }
    let Some(tok_path) = args.tokenizer.clone().or_else(|| find_tokenizer(&args.shard)) else {
        println!("(no tokenizer.json found beside the shard; pass --tokenizer to see decoded text)");
        return Ok(());
    };
    let tok = RsrTokenizer::load(&tok_path).with_context(|| format!("loading {}", tok_path.display()))?;
    if tok.vocab_size() != s.vocab_size as usize {
        anyhow::bail!(
            "{} has a vocabulary of {}, the shard {}\nHINT: pass the tokenizer.json this shard was packed with",
            tok_path.display(),
            tok.vocab_size(),
            s.vocab_size
        );
    }
    // Unsafe verdicts with nothing masked: the mask was lost (or the corpus was built with
    // `--mask none`, which trains on unsafe text on purpose).
    let unsafe_verdicts = s.tokens.iter().filter(|&&t| t == tok.special.unsafe_).count();
    if masked == 0 && unsafe_verdicts > 0 {
        println!(
            "  WARNING     {unsafe_verdicts} unsafe reflections and nothing masked: this shard trains on the text \
             they judge unsafe (fine for a `--mask none` ablation; otherwise re-run `rsr transform` and `rsr pack`)"
        );
    }
    let shown: Vec<usize> = match args.doc {
        Some(first) => (first..(first + args.docs).min(s.n_docs())).collect(),
        None => {
            let masked: Vec<usize> = (0..s.n_docs()).filter(|&i| s.doc(i).1.contains(&0)).take(args.docs).collect();
            if masked.is_empty() {
                (0..args.docs.min(s.n_docs())).collect()
            } else {
                masked
            }
        }
    };
    for i in shown {
        let (tokens, mask) = s.doc(i);
        println!("\n--- document {i} ({} tokens) ---", tokens.len());
        let mut out = String::new();
        let mut start = 0;
        // Decode runs of equal mask together so multi-byte characters survive.
        while start < tokens.len() {
            let m = mask[start];
            let end = (start..tokens.len()).find(|&j| mask[j] != m).unwrap_or(tokens.len());
            let text = tok.decode(&tokens[start..end]);
            if m == 0 {
                out.push_str(&format!("⟦{text}⟧"));
            } else {
                out.push_str(&text);
            }
            start = end;
        }
        println!("{out}");
    }
    Ok(())
}
