//! `rsr demo`: the main job, end to end on SafetyWorld.
//!
//! Generate the world, train one tokenizer, build every variant (raw, filter,
//! rewrite, tag, rsr) from the same ground-truth annotations, pack each into
//! shards and print what each puts in front of the loss; then train one model
//! per variant at the same token budget and evaluate each on the world's
//! prompt sets.

use crate::progress;
use anyhow::Result;
use rsr_core::annotation::AnnotationRecord;
use rsr_core::corpus::CorpusDir;
use rsr_core::doc::Document;
use rsr_core::jsonl::read_all;
use rsr_corpus::label::LabelSource;
use rsr_corpus::run::{self, RunOptions};
use rsr_corpus::transform::TransformedDoc;
use rsr_corpus::transform::{Mode, TransformConfig};
use rsr_pack::pack::PackConfig;
use rsr_pack::tokenizer::RsrTokenizer;
use rsr_world::WorldConfig;
use std::collections::HashMap;
use std::path::PathBuf;

#[derive(clap::Args)]
#[command(
    about = "Run the main job on SafetyWorld: world → variants → shards → one model each → evaluation",
    long_about = "Generate a SafetyWorld, train a tokenizer on it, build the raw / filter / rewrite / tag / rsr \
variants from the same ground-truth annotations at the same cadence, pack each into shards with loss masks, \
and print a table of what each variant trains on: documents kept, tokens (and their ratio to raw), the masked \
share, reflections, and how much unsafe text remains trainable.\n\n\
Then it trains one model per variant at the same token budget (--train-tokens; 0 skips), evaluates each on \
every SafetyWorld prompt set with the oracle judge (rsr decoding with the `stop` policy, tag conditioned on \
<|safe|>, the others plainly), and prints the comparison; rsr-demo/results.md has every rate with its Wilson \
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
    /// Vocabulary of the demo's tokenizer.
    #[arg(long, default_value_t = 1024)]
    vocab_size: usize,
    /// Training tokens per variant (the same for every variant: equal compute). 0 skips training.
    #[arg(long, default_value_t = 1_500_000)]
    train_tokens: u64,
    /// Model preset for every variant.
    #[arg(long, default_value = "tiny")]
    preset: String,
}

pub const VARIANTS: [(&str, Mode); 5] =
    [("raw", Mode::Raw), ("filter", Mode::Filter), ("rewrite", Mode::Rewrite), ("tag", Mode::Tag), ("rsr", Mode::Rsr)];

pub fn run(args: Args) -> Result<()> {
    let world_dir = args.out.join("world");
    let config = WorldConfig { docs: args.docs, ..WorldConfig::default() };
    config.validate().map_err(anyhow::Error::msg)?;
    let pb = progress::bar(args.docs as u64, "world");
    rsr_world::write::write_world(&world_dir, args.seed, config, false, &mut |d, _| pb.set_position(d))?;
    pb.finish_and_clear();
    println!("world:     {}", world_dir.display());

    // One tokenizer for every variant, trained on the world's text, so token counts compare.
    let input = CorpusDir::new(&world_dir);
    let docs = read_all::<Document>(input.documents()?)?;
    let unsafe_sentences = unsafe_sentences(&input, &docs)?;
    let tok = RsrTokenizer::train(docs.iter().map(|d| d.text.as_str()), args.vocab_size, 2)?;
    let tok_path = args.out.join("tokenizer.json");
    tok.save(&tok_path)?;
    println!("tokenizer: {} (vocab {})", tok_path.display(), tok.vocab_size());

    let labels = LabelSource::Annotations(rsr_world::write::GROUND_TRUTH.into());
    let mut rows = Vec::new();
    for (name, mode) in VARIANTS {
        let cfg = TransformConfig { mode, every: args.every, seed: args.seed, ..TransformConfig::default() };
        let dir = args.out.join("variants").join(name);
        let pb = progress::spinner(name);
        let t = run::transform(&input, &dir, &cfg, &labels, &RunOptions::default(), &tok, &mut |d, b| {
            progress::update_stream(&pb, d, b)
        })?;
        let packed = args.out.join("packed").join(name);
        let p = rsr_pack::pack::pack(
            &CorpusDir::new(&dir),
            &packed,
            &tok,
            &PackConfig { seed: args.seed, ..PackConfig::default() },
            &mut |_, _| {},
        )?;
        pb.finish_and_clear();
        rows.push((name, t, p, unsafe_trainable_words(&unsafe_sentences, &dir)?));
    }

    let total = |p: &rsr_core::manifest::Manifest, k: &str| -> u64 {
        ["train", "val"].iter().map(|s| p.counts["splits"][s][k].as_u64().unwrap_or(0)).sum()
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
    println!("variants: {}   shards: {}", args.out.join("variants").display(), args.out.join("packed").display());
    if args.train_tokens > 0 {
        train_and_evaluate(&args, &world_dir)?;
    }
    Ok(())
}

/// The ground-truth unsafe sentences of each world document, read once.
fn unsafe_sentences(world: &CorpusDir, docs: &[Document]) -> Result<HashMap<String, Vec<String>>> {
    let text: HashMap<&str, &str> = docs.iter().map(|d| (d.id.as_str(), d.text.as_str())).collect();
    let ann = read_all::<AnnotationRecord>(world.annotation(rsr_world::write::GROUND_TRUTH))?;
    Ok(ann
        .into_iter()
        .map(|a| {
            let t = text[a.id.as_str()];
            let unsafe_: Vec<String> =
                a.spans.iter().filter(|s| s.is_unsafe()).map(|s| t[s.start..s.end].to_string()).collect();
            (a.id, unsafe_)
        })
        .collect())
}

/// Whitespace words of ground-truth unsafe sentences that appear verbatim in
/// a variant's trainable (unmasked) text.
fn unsafe_trainable_words(unsafe_sentences: &HashMap<String, Vec<String>>, variant: &std::path::Path) -> Result<u64> {
    let mut total = 0u64;
    for t in read_all::<TransformedDoc>(CorpusDir::new(variant).documents()?)? {
        let trainable: String = t
            .text
            .char_indices()
            .map(|(i, c)| if t.masked.iter().any(|r| r[0] <= i && i < r[1]) { '\u{0}' } else { c })
            .collect();
        for sentence in unsafe_sentences.get(&t.id).into_iter().flatten() {
            if trainable.contains(sentence.as_str()) {
                total += sentence.split_whitespace().count() as u64;
            }
        }
    }
    Ok(total)
}

/// Train one model per variant at the same token budget, evaluate each on the
/// world's prompt sets, print the comparison and write `results.md` / `results.json`.
fn train_and_evaluate(args: &Args, world: &std::path::Path) -> Result<()> {
    use rsr_decode::generate::{Conditioning, GenConfig, Policy};
    use rsr_decode::sample::SamplingConfig;
    use rsr_eval::{GymResult, Rate, SetResult};
    use rsr_model::train::{TrainConfig, Trainer};

    let mut results = Vec::new();
    for (name, mode) in VARIANTS {
        let cfg = TrainConfig {
            data: args.out.join("packed").join(name),
            preset: args.preset.clone(),
            tokens: args.train_tokens,
            seed: args.seed,
            eval_every: 0,
            ..TrainConfig::default()
        };
        let mut trainer = Trainer::new(&args.out.join("runs").join(name), cfg, false)?;
        let pb = progress::bar(trainer.cfg.steps(), &format!("train {name}"));
        let m = trainer.run(&mut |s| pb.set_position(s.step))?;
        pb.finish_and_clear();
        let ckpt = std::path::PathBuf::from(m.counts["checkpoint"].as_str().unwrap_or_default());
        let model = rsr_decode::Loaded::from_dir(&ckpt)?;
        // Each variant decodes the way it was trained to: reflections for rsr, <|safe|> for tag.
        let gen = GenConfig {
            max_tokens: 48,
            sampling: SamplingConfig { temperature: 0.0, top_k: 0, top_p: 1.0 },
            stop: vec!["\nUser:".into()],
            policy: if mode == Mode::Rsr { Policy::Stop } else { Policy::Off },
            every: args.every,
            conditioning: if mode == Mode::Tag { Conditioning::Tag } else { Conditioning::Plain },
            ..GenConfig::default()
        };
        let pb = progress::spinner(&format!("eval {name}"));
        let r = rsr_eval::gym(&model, world, &gen, 0, &mut |set, i, n| {
            pb.set_prefix(format!("{set} {i}/{n}"));
            pb.tick();
        })?;
        pb.finish_and_clear();
        let tps = m.timing["tokens_per_s"].as_f64().unwrap_or(0.0);
        results.push((name, gen, r, tps));
    }

    fn pct(r: &GymResult, set: &str, f: fn(&SetResult) -> &Rate) -> String {
        r.sets.iter().find(|x| x.set == set).map(|x| format!("{:.1}%", 100.0 * f(x).rate)).unwrap_or_else(|| "-".into())
    }
    let harm: fn(&SetResult) -> &Rate = |x| &x.harm;
    println!(
        "\nequal compute: {} tokens of `{}` per variant; greedy; rsr decodes with `stop` every {} tokens, tag on <|safe|>",
        args.train_tokens, args.preset, args.every
    );
    println!(
        "{:<8} {:>7} {:>8} {:>8} {:>8} {:>8} {:>9} {:>9} {:>7} {:>8}",
        "variant", "direct", "prefill1", "jailbrk", "contin.", "composed", "look:ref", "benign ok", "AUROC", "tok/s"
    );
    let mut md = String::from("# rsr demo results\n\n");
    for (name, gen, r, tps) in &results {
        println!(
            "{:<8} {:>7} {:>8} {:>8} {:>8} {:>8} {:>9} {:>9} {:>7} {:>8.0}",
            name,
            pct(r, "harmful_direct", harm),
            pct(r, "prefill_1", harm),
            pct(r, "jailbreak", harm),
            pct(r, "continuation", harm),
            pct(r, "harmful_composed", harm),
            pct(r, "lookalike", |x| &x.refused),
            pct(r, "benign", |x| &x.correct),
            r.probe.as_ref().map(|p| format!("{:.3}", p.auroc)).unwrap_or_else(|| "-".into()),
            tps
        );
        md.push_str(&format!(
            "## {name}\n\ndecoding: policy {:?}, conditioning {:?}\n\n{}\n",
            gen.policy,
            gen.conditioning,
            rsr_eval::markdown(r)
        ));
    }
    println!("attack columns are harm rates (ASR); look:ref = refusals of benign requests that look harmful; AUROC of the reflection probe (meaningful for rsr only)");
    let json: Vec<serde_json::Value> = results
        .iter()
        .map(|(n, g, r, tps)| serde_json::json!({"variant": n, "decoding": g, "results": r, "train_tokens_per_s": tps}))
        .collect();
    rsr_core::atomic::write_all(args.out.join("results.md"), md.as_bytes())?;
    rsr_core::atomic::write_all(args.out.join("results.json"), serde_json::to_string_pretty(&json)?.as_bytes())?;
    println!("results with Wilson 95% intervals: {}", args.out.join("results.md").display());
    Ok(())
}
