//! `rsr demo`: the main job, end to end on SafetyWorld.
//!
//! Today it runs the corpus side — generate the world, build every variant
//! (raw, filter, rewrite, tag, rsr) from the same ground-truth annotations —
//! and prints what each variant puts in front of the loss. Packing, training,
//! decoding and evaluation join as those stages land.

use crate::progress;
use anyhow::Result;
use rsr_core::corpus::CorpusDir;
use rsr_corpus::label::LabelSource;
use rsr_corpus::run::{self, RunOptions};
use rsr_corpus::transform::{Mode, TransformConfig};
use rsr_world::WorldConfig;
use std::path::PathBuf;

#[derive(clap::Args)]
#[command(
    about = "Run the main job on SafetyWorld: world → every variant → table",
    long_about = "Generate a SafetyWorld, build the raw / filter / rewrite / tag / rsr variants from the same \
ground-truth annotations at the same cadence, and print a table of what each variant trains on: documents \
kept, text and inserted tokens, token overhead, and how many tokens of unsafe text remain trainable.\n\n\
Training, decoding and evaluation stages are not part of the toolkit yet; the demo grows with them.",
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
    /// Segment cadence in tokens. SafetyWorld documents are short (~50 words), so the demo reflects often.
    #[arg(long, default_value_t = 16)]
    every: usize,
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
    println!("world: {}", world_dir.display());

    let input = CorpusDir::new(&world_dir);
    let labels = LabelSource::Annotations(rsr_world::write::GROUND_TRUTH.into());
    let mut rows = Vec::new();
    for (name, mode) in VARIANTS {
        let cfg = TransformConfig {
            mode,
            every: args.every,
            seed: args.seed,
            ..TransformConfig::default()
        };
        let out = args.out.join("variants").join(name);
        let pb = progress::spinner(name);
        let m = run::transform(&input, &out, &cfg, &labels, &RunOptions::default(), &mut |d, b| {
            progress::update_stream(&pb, d, b)
        })?;
        pb.finish_and_clear();
        rows.push((name, m));
    }

    println!(
        "\n{:<8} {:>6} {:>10} {:>9} {:>9} {:>10} {:>16}",
        "variant", "docs", "text tok", "inserted", "overhead", "masked tok", "unsafe trainable"
    );
    for (name, m) in &rows {
        let c = &m.counts;
        let n = |k: &str| c[k].as_u64().unwrap_or(0);
        // Unsafe text the loss still sees: what a model could learn to produce.
        let unsafe_tokens = unsafe_trainable_tokens(&input, &args.out.join("variants").join(name))?;
        println!(
            "{:<8} {:>6} {:>10} {:>9} {:>8.1}% {:>10} {:>16}",
            name,
            n("docs_out"),
            n("text_tokens"),
            n("inserted_tokens"),
            100.0 * c["token_overhead"].as_f64().unwrap_or(0.0),
            n("masked_tokens"),
            unsafe_tokens
        );
    }
    println!("\nvariants: {}", args.out.join("variants").display());
    println!("(training, decoding and evaluation are not in the toolkit yet; see the issues for their status)");
    Ok(())
}

/// Whitespace tokens of ground-truth unsafe sentences that appear verbatim in
/// a variant's trainable (unmasked) text.
fn unsafe_trainable_tokens(world: &CorpusDir, variant: &std::path::Path) -> Result<u64> {
    use rsr_core::annotation::AnnotationRecord;
    use rsr_core::doc::Document;
    use rsr_core::jsonl::read_all;
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
