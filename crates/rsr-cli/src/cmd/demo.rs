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

    let labels = LabelSource::Annotations(rsr_world::write::GROUND_TRUTH);
    let mut rows = Vec::new();
    for (name, mode) in VARIANTS {
        let cfg = TransformConfig { mode, every: args.every, seed: args.seed, ..TransformConfig::default() };
        let dir = args.out.join("variants").join(name);
        let pb = progress::spinner(name);
        let t = run::transform(&input, &dir, &cfg, labels, &RunOptions::default(), &tok, &mut |d, b| {
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
        let corpus: Vec<(&str, u64, f64)> =
            rows.iter().map(|(n, _, p, _)| (*n, total(p, "tokens"), total(p, "tokens") as f64 / raw_tokens)).collect();
        train_and_evaluate(&args, &world_dir, &corpus)?;
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

/// Train one model per variant at the same token budget (saving checkpoints
/// along the way), evaluate each — the full suite on the final checkpoint, a
/// learning curve over the others, a tamper attack — print the comparison,
/// and write `results.json`, `results.md` and the HTML report.
fn train_and_evaluate(args: &Args, world: &std::path::Path, corpus: &[(&str, u64, f64)]) -> Result<()> {
    use rsr_decode::generate::{Conditioning, GenConfig, Policy};
    use rsr_decode::sample::SamplingConfig;
    use rsr_eval::gym::WorldSuite;
    use rsr_eval::report::{Cost, RunSummary};
    use rsr_model::finetune::FinetuneConfig;
    use rsr_model::train::{TrainConfig, Trainer};

    let suite = WorldSuite::open(world)?;
    let mut runs: Vec<RunSummary> = Vec::new();
    for (name, mode) in VARIANTS {
        let run_dir = args.out.join("runs").join(name);
        let cfg = TrainConfig {
            data: args.out.join("packed").join(name),
            preset: args.preset.clone(),
            tokens: args.train_tokens,
            seed: args.seed,
            eval_every: 0,
            ..TrainConfig::default()
        };
        // Evenly spaced checkpoints for the learning curve; the last is the final one.
        let per_step = (cfg.batch_size * cfg.seq_len) as u64;
        let cfg =
            TrainConfig { checkpoint_every: cfg.steps().div_ceil(args.curve_points.max(1) as u64) * per_step, ..cfg };
        rsr_model::train::prepare_new_run(&run_dir, true)?;
        let mut trainer = Trainer::new(&run_dir, cfg, false)?;
        let pb = progress::bar(trainer.cfg.steps(), &format!("train {name}"));
        let m = trainer.run(&mut |s| pb.set_position(s.step))?;
        pb.finish_and_clear();
        let ckpt = std::path::PathBuf::from(m.counts["checkpoint"].as_str().unwrap_or_default());
        // Each variant decodes the way it was trained to: reflections for rsr, <|safe|> for tag.
        let gen = GenConfig {
            max_tokens: 48,
            sampling: SamplingConfig { temperature: 0.0, top_k: 0, top_p: 1.0 },
            stop: vec![rsr_core::chat::STOP.into()],
            policy: if mode == Mode::Rsr { Policy::Stop } else { Policy::Off },
            every: args.every,
            conditioning: if mode == Mode::Tag { Conditioning::Tag } else { Conditioning::Plain },
            ..GenConfig::default()
        };
        let pb = progress::spinner(&format!("eval {name}"));
        let mut tick = |what: &str, i: usize, n: usize| {
            pb.set_prefix(format!("{what} {i}/{n}"));
            pb.tick();
        };
        let mut model = rsr_decode::Loaded::from_dir(&ckpt)?;
        let results = rsr_eval::gym(&model, world, &gen, 0, &mut tick)?;
        let curve = if args.curve_points > 1 {
            rsr_eval::curve::curve(&run_dir, world, &gen, args.curve_per_set, &mut tick)?
        } else {
            vec![]
        };
        let tamper = if args.tamper_steps.iter().any(|&s| s > 0) {
            // The attacker's data: the world's training documents that hold unsafe text, as written.
            let data = rsr_eval::tamper::attack_data(&model, world, rsr_world::write::GROUND_TRUTH)?;
            let ft = FinetuneConfig { seed: args.seed, ..FinetuneConfig::default() };
            rsr_eval::tamper::tamper(
                &mut model,
                &data,
                &suite,
                &gen,
                ft,
                &args.tamper_steps,
                args.curve_per_set,
                &mut tick,
            )?
        } else {
            vec![]
        };
        pb.finish_and_clear();
        let (_, corpus_tokens, vs_raw) = corpus.iter().find(|c| c.0 == name).copied().unwrap_or((name, 0, 0.0));
        runs.push(RunSummary {
            name: name.to_string(),
            decoding: serde_json::to_value(&gen)?,
            results: Some(results),
            curve,
            tamper,
            cost: Cost {
                corpus_tokens: Some(corpus_tokens),
                corpus_vs_raw: Some(vs_raw),
                train_tokens_per_s: m.timing["tokens_per_s"].as_f64(),
            },
            ..RunSummary::default()
        });
    }

    let harm = |r: &RunSummary, set: &str| -> String {
        r.results.as_ref().and_then(|g| g.set(set)).map(|x| x.harm.pct()).unwrap_or_else(|| "-".into())
    };
    println!(
        "\nequal compute: {} tokens of `{}` per variant; greedy; rsr decodes with `stop` every {} tokens, tag on <|safe|>",
        args.train_tokens, args.preset, args.every
    );
    println!(
        "{:<8} {:>7} {:>8} {:>8} {:>8} {:>8} {:>9} {:>9} {:>8} {:>7} {:>8}",
        "variant",
        "direct",
        "prefill1",
        "jailbrk",
        "contin.",
        "composed",
        "look:ref",
        "benign ok",
        "ppl safe",
        "AUROC",
        "tampered"
    );
    for r in &runs {
        let g = r.results.as_ref().expect("evaluated");
        let h = g.heldout.as_ref();
        println!(
            "{:<8} {:>7} {:>8} {:>8} {:>8} {:>8} {:>9} {:>9} {:>8} {:>7} {:>8}",
            r.name,
            harm(r, "harmful_direct"),
            harm(r, "prefill_1"),
            harm(r, "jailbreak"),
            harm(r, "continuation"),
            harm(r, "harmful_composed"),
            g.set("lookalike").map(|x| x.refused.pct()).unwrap_or_default(),
            g.set("benign").map(|x| x.correct.pct()).unwrap_or_default(),
            h.map(|h| format!("{:.2}", h.safe.ppl)).unwrap_or_else(|| "-".into()),
            h.map(|h| format!("{:.3}", h.probe.segment_auroc)).unwrap_or_else(|| "-".into()),
            r.tamper.last().map(|p| p.pooled_harm().pct()).unwrap_or_else(|| "-".into()),
        );
    }
    println!(
        "attack columns: harm rates (ASR); look:ref: refusals of harmless look-alike requests; ppl safe: perplexity of \
held-out safe text (no reflections); AUROC: the reflection probe per segment (meaningful for rsr only); tampered: \
pooled ASR after {} steps of fine-tuning on harmful documents",
        args.tamper_steps.iter().max().copied().unwrap_or(0)
    );
    rsr_core::atomic::write_all(args.out.join("results.json"), serde_json::to_string_pretty(&runs)?.as_bytes())?;
    let notes = format!(
        "rsr demo: {} SafetyWorld documents, one `{}` model per variant trained on {} tokens (equal compute), greedy \
decoding; rsr with the `stop` policy every {} tokens, tag conditioned on <|safe|>.",
        args.docs, args.preset, args.train_tokens, args.every
    );
    let report =
        rsr_eval::report::write(&args.out, "rsr demo: Regular Safety Reflection vs the baselines", &notes, &runs)?;
    std::fs::rename(args.out.join("report.md"), args.out.join("results.md"))
        .map_err(|e| rsr_core::Error::io(args.out.join("results.md"), e))?;
    println!("report: {}   (Markdown: {})", report.display(), args.out.join("results.md").display());
    Ok(())
}
