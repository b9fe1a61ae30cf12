//! The corpora: the world, the one tokenizer, every variant transformed from the same labels
//! and packed, and what each puts in front of the loss ([`CorpusRow`]).

use super::{kept, ExperimentConfig, Stage, CONTROL_RUN, NOISY};
use crate::results::CorpusRow;
use rsr_core::annotation::AnnotationRecord;
use rsr_core::corpus::CorpusDir;
use rsr_core::doc::Document;
use rsr_core::jsonl::read_all;
use rsr_core::Result;
use rsr_corpus::label::LabelSource;
use rsr_corpus::run::{self, RunOptions};
use rsr_corpus::transform::{Mode, TransformConfig, TransformedDoc};
use rsr_pack::pack::{PackConfig, PackCounts};
use rsr_pack::tokenizer::RsrTokenizer;
use rsr_world::WorldConfig;
use std::collections::HashMap;
use std::path::Path;

/// Generate the world, train the one tokenizer, build and pack every variant. With
/// `cfg.resume`, corpora an earlier run finished (its `corpora.json`) are kept as they are.
pub fn build_corpora(cfg: &ExperimentConfig, progress: &mut dyn FnMut(Stage)) -> Result<Vec<CorpusRow>> {
    let path = cfg.out.join("corpora.json");
    let rows = kept(cfg.resume, &path, || build_corpora_now(cfg, progress))?;
    // Kept corpora without an ablation this run asks for, or without the negative control it
    // now trains: build again (deterministic: what was kept comes out the same).
    let control_missing =
        cfg.control && cfg.train_tokens > 0 && !cfg.control_dir().join("packed/manifest.json").is_file();
    if !control_missing && cfg.built_variants().iter().all(|v| rows.iter().any(|r| r.name == v.name)) {
        return Ok(rows);
    }
    let _ = std::fs::remove_file(&path);
    kept(cfg.resume, &path, || build_corpora_now(cfg, progress))
}

fn build_corpora_now(cfg: &ExperimentConfig, progress: &mut dyn FnMut(Stage)) -> Result<Vec<CorpusRow>> {
    let world_dir = cfg.world_dir();
    let config = cfg.world_config();
    config.validate().map_err(rsr_core::Error::Invalid)?;
    let total = cfg.docs as u64;
    rsr_world::write::write_world(&world_dir, cfg.seed, config, false, &mut |d, _| progress(Stage::World(d, total)))?;

    // One tokenizer for every variant, trained on the world's text, so token counts compare.
    let input = CorpusDir::new(&world_dir);
    let docs = read_all::<Document>(input.documents()?)?;
    let unsafe_sentences = unsafe_sentences(&input, &docs)?;
    let tok = RsrTokenizer::train(docs.iter().map(|d| d.text.as_str()), cfg.vocab_size, 2)?;
    tok.save(&cfg.tokenizer_path())?;

    if let Some(spec) = &cfg.noise {
        rsr_corpus::run::annotate_noisy(&input, rsr_world::write::GROUND_TRUTH, NOISY, spec, cfg.seed, true)?;
    }
    let labels = LabelSource::Annotations(cfg.labels());
    let mut built: Vec<(&'static str, u64, PackCounts, u64)> = Vec::new();
    for v in cfg.built_variants() {
        let (name, t_cfg) = (v.name, v.transform(cfg));
        let dir = cfg.variant_dir(name);
        let t = run::transform(&input, &dir, &t_cfg, labels, &RunOptions::default(), &tok, &mut |d, _| {
            progress(Stage::Variant(name, d))
        })?;
        let pack_cfg = PackConfig { seed: cfg.seed, ..PackConfig::default() };
        let p = rsr_pack::pack::pack(&CorpusDir::new(&dir), &cfg.packed_dir(name), &tok, &pack_cfg, &mut |_| {})?;
        built.push((name, t.counts.transform.docs_out, p.counts, unsafe_trainable_words(&unsafe_sentences, &dir)?));
    }
    if cfg.control && cfg.train_tokens > 0 {
        // The negative control: the same seed, the held-out facts deleted, raw only.
        let control = cfg.control_dir();
        let config = WorldConfig { omit_heldout_facts: true, ..cfg.world_config() };
        rsr_world::write::write_world(&control.join("world"), cfg.seed, config, false, &mut |_, _| {})?;
        let t_cfg = TransformConfig { mode: Mode::Raw, every: cfg.every, seed: cfg.seed, ..TransformConfig::default() };
        let input = CorpusDir::new(control.join("world"));
        let dir = control.join("variant");
        run::transform(&input, &dir, &t_cfg, labels, &RunOptions::default(), &tok, &mut |d, _| {
            progress(Stage::Variant(CONTROL_RUN, d))
        })?;
        let pack_cfg = PackConfig { seed: cfg.seed, ..PackConfig::default() };
        rsr_pack::pack::pack(&CorpusDir::new(&dir), &control.join("packed"), &tok, &pack_cfg, &mut |_| {})?;
    }
    let raw_tokens = built[0].2.total(|s| s.tokens).max(1) as f64;
    Ok(built
        .into_iter()
        .map(|(name, docs, p, unsafe_trainable)| {
            let tokens = p.total(|s| s.tokens);
            CorpusRow {
                name: name.to_string(),
                docs,
                tokens,
                vs_raw: tokens as f64 / raw_tokens,
                masked_fraction: p.total(|s| s.masked_tokens) as f64 / tokens.max(1) as f64,
                reflections: p.total(|s| s.reflections),
                unsafe_trainable,
            }
        })
        .collect())
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
/// a variant's trainable (unmasked) text: what a model could still learn to produce.
pub fn unsafe_trainable_words(unsafe_sentences: &HashMap<String, Vec<String>>, variant: &Path) -> Result<u64> {
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
