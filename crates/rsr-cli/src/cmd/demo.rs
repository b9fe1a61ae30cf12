//! `rsr demo`: the main job, end to end on SafetyWorld.
//!
//! Today it runs the corpus side — generate the world, train one tokenizer,
//! build every variant (raw, filter, rewrite, tag, rsr) from the same
//! ground-truth annotations, pack each into shards — and prints what each
//! variant puts in front of the loss. Training each variant, decoding and
//! evaluation join as those stages land.

use crate::progress;
use anyhow::Result;
use rsr_core::corpus::CorpusDir;
use rsr_core::doc::Document;
use rsr_core::jsonl::read_all;
use rsr_corpus::label::LabelSource;
use rsr_corpus::run::{self, RunOptions};
use rsr_corpus::transform::{Mode, TransformConfig};
use rsr_pack::pack::PackConfig;
use rsr_pack::tokenizer::RsrTokenizer;
use rsr_world::WorldConfig;
use std::path::PathBuf;

#[derive(clap::Args)]
#[command(
    about = "Run the main job on SafetyWorld: world → tokenizer → every variant → shards → table",
    long_about = "Generate a SafetyWorld, train a tokenizer on it, build the raw / filter / rewrite / tag / rsr \
variants from the same ground-truth annotations at the same cadence, pack each into shards with loss masks, \
and print a table of what each variant trains on: documents kept, tokens (and their ratio to raw), the masked \
share, reflections, and how much unsafe text remains trainable.\n\n\
The demo does not train yet (`rsr train` does, on any variant's shards); decoding and evaluation are not \
part of the toolkit yet. The demo grows with them.",
    after_help = "Examples:\n  rsr demo\n  rsr demo --out /tmp/rsr-demo --docs 20000"
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
    /// Vocabulary of the demo's tokenizer.
    #[arg(long, default_value_t = 1024)]
    vocab_size: usize,
}

pub const VARIANTS: [(&str, Mode); 5] = [
    ("raw", Mode::Raw),
    ("filter", Mode::Filter),
    ("rewrite", Mode::Rewrite),
    ("tag", Mode::Tag),
    ("rsr", Mode::Rsr),
];

pub fn run(args: Args) -> Result<()> {
    let world_dir = args.out.join("world");
    let config = WorldConfig {
        docs: args.docs,
        ..WorldConfig::default()
    };
    config.validate().map_err(anyhow::Error::msg)?;
    let pb = progress::bar(args.docs as u64, "world");
    rsr_world::write::write_world(&world_dir, args.seed, config, false, &mut |d, _| pb.set_position(d))?;
    pb.finish_and_clear();
    println!("world:     {}", world_dir.display());

    // One tokenizer for every variant, trained on the world's text, so token counts compare.
    let input = CorpusDir::new(&world_dir);
    let texts: Vec<String> = read_all::<Document>(input.documents()?)?
        .into_iter()
        .map(|d| d.text)
        .collect();
    let tok = RsrTokenizer::train(texts.iter(), args.vocab_size, 2)?;
    let tok_path = args.out.join("tokenizer.json");
    tok.save(&tok_path)?;
    println!("tokenizer: {} (vocab {})", tok_path.display(), tok.vocab_size());

    let labels = LabelSource::Annotations(rsr_world::write::GROUND_TRUTH.into());
    let mut rows = Vec::new();
    for (name, mode) in VARIANTS {
        let cfg = TransformConfig {
            mode,
            every: args.every,
            seed: args.seed,
            ..TransformConfig::default()
        };
        let dir = args.out.join("variants").join(name);
        let pb = progress::spinner(name);
        let t = run::transform(
            &input,
            &dir,
            &cfg,
            &labels,
            &RunOptions::default(),
            &tok,
            &mut |d, b| progress::update_stream(&pb, d, b),
        )?;
        let packed = args.out.join("packed").join(name);
        let p = rsr_pack::pack::pack(
            &CorpusDir::new(&dir),
            &packed,
            &tok,
            &PackConfig {
                seed: args.seed,
                ..PackConfig::default()
            },
            &mut |_, _| {},
        )?;
        pb.finish_and_clear();
        rows.push((name, t, p, unsafe_trainable_tokens(&input, &dir)?));
    }

    let total = |p: &rsr_core::manifest::Manifest, k: &str| -> u64 {
        ["train", "val"]
            .iter()
            .map(|s| p.counts["splits"][s][k].as_u64().unwrap_or(0))
            .sum()
    };
    let raw_tokens = total(&rows[0].2, "tokens") as f64;
    println!(
        "\n{:<8} {:>6} {:>9} {:>7} {:>8} {:>12} {:>16}",
        "variant", "docs", "tokens", "vs raw", "masked", "reflections", "unsafe trainable"
    );
    for (name, t, p, unsafe_words) in &rows {
        let tokens = total(p, "tokens");
        println!(
            "{:<8} {:>6} {:>9} {:>6.2}x {:>7.1}% {:>12} {:>16}",
            name,
            t.counts["docs_out"].as_u64().unwrap_or(0),
            tokens,
            tokens as f64 / raw_tokens,
            100.0 * total(p, "masked_tokens") as f64 / tokens.max(1) as f64,
            total(p, "reflections"),
            unsafe_words
        );
    }
    println!("\ntokens: exact, <|endoftext|> included; unsafe trainable: words of ground-truth unsafe sentences left trainable.");
    println!(
        "variants: {}   shards: {}",
        args.out.join("variants").display(),
        args.out.join("packed").display()
    );
    println!("next: `rsr train --data {} --out runs/rsr` trains on a variant; decoding and evaluation are not in the toolkit yet", args.out.join("packed/rsr").display());
    Ok(())
}

/// Whitespace words of ground-truth unsafe sentences that appear verbatim in
/// a variant's trainable (unmasked) text.
fn unsafe_trainable_tokens(world: &CorpusDir, variant: &std::path::Path) -> Result<u64> {
    use rsr_core::annotation::AnnotationRecord;
    use rsr_corpus::transform::TransformedDoc;
    use std::collections::HashMap;

    let docs: HashMap<String, String> = read_all::<Document>(world.documents()?)?
        .into_iter()
        .map(|d| (d.id, d.text))
        .collect();
    let ann: HashMap<String, AnnotationRecord> =
        read_all::<AnnotationRecord>(world.annotation(rsr_world::write::GROUND_TRUTH))?
            .into_iter()
            .map(|a| (a.id.clone(), a))
            .collect();
    let mut total = 0u64;
    for t in read_all::<TransformedDoc>(CorpusDir::new(variant).documents()?)? {
        let trainable: String = t
            .text
            .char_indices()
            .map(|(i, c)| {
                if t.masked.iter().any(|r| r[0] <= i && i < r[1]) {
                    '\u{0}'
                } else {
                    c
                }
            })
            .collect();
        for s in ann[&t.id].spans.iter().filter(|s| s.is_unsafe()) {
            let sentence = &docs[&t.id][s.start..s.end];
            if trainable.contains(sentence) {
                total += sentence.split_whitespace().count() as u64;
            }
        }
    }
    Ok(total)
}
