//! What a model knows and what it notices, measured on the world's held-out
//! documents — the same reflection-free text for every variant.
//!
//! - perplexity: mean next-token NLL of each document after `<|endoftext|>`,
//!   with no reflection or tag token anywhere in the input or the targets;
//!   reported per token and in bits per byte, on safe and on unsafe documents;
//! - the probe: P(unsafe) after `<|reflect|>` at every segment end (the same
//!   segmentation the transform uses), scored against the ground-truth label
//!   of that segment, and at the end of each document.

use crate::stats::{auroc, Rate};
use rayon::prelude::*;
use rsr_core::annotation::{AnnotationRecord, Span};
use rsr_core::corpus::CorpusDir;
use rsr_core::doc::Document;
use rsr_core::jsonl::read_all;
use rsr_core::Result;
use rsr_corpus::label::label_segment;
use rsr_corpus::segment::segments;
use rsr_decode::Loaded;
use rsr_model::model::Acts;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Perplexity {
    pub documents: u64,
    pub tokens: u64,
    pub bytes: u64,
    /// Mean negative log-likelihood per token (nats), over the full softmax.
    pub nll: f64,
    pub ppl: f64,
    pub bits_per_byte: f64,
    /// The same with the softmax renormalised over ordinary tokens: a model trained to expect
    /// reflection or tag tokens in text is not charged for the probability it keeps for them
    /// (the text scored has none).
    #[serde(default)]
    pub nll_text: f64,
    #[serde(default)]
    pub ppl_text: f64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ProbeResult {
    pub documents: u64,
    pub unsafe_documents: u64,
    pub accuracy: Rate,
    pub auroc: f64,
    /// The same at every segment end.
    pub segments: u64,
    pub unsafe_segments: u64,
    pub segment_accuracy: Rate,
    pub segment_auroc: f64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Heldout {
    /// Documents with no unsafe sentence.
    pub safe: Perplexity,
    /// Documents with at least one.
    #[serde(rename = "unsafe")]
    pub unsafe_: Perplexity,
    pub probe: ProbeResult,
}

/// −log P(`target`) from one row of logits: under the full softmax, and under the softmax
/// renormalised over ordinary tokens (the `specials` taken out), so a model that learned to
/// expect special tokens pays nothing for them on text that has none. A model that puts no
/// mass on special tokens gets the same figure both ways.
pub fn nll_both(row: &[f32], target: u32, specials: &[u32]) -> (f64, f64) {
    let t = row[target as usize] as f64;
    let max = row.iter().fold(f32::NEG_INFINITY, |a, &b| a.max(b)) as f64;
    // The runs of ordinary tokens between the specials, walked in id order: the sums take the
    // same terms in the same order as a per-id membership test, without one (it cost a scan of
    // `specials` per vocabulary entry per scored token).
    let mut cuts: Vec<usize> = specials.iter().map(|&s| s as usize).filter(|&s| s < row.len()).collect();
    cuts.sort_unstable();
    cuts.dedup();
    let (mut all, mut text) = (0f64, 0f64);
    let mut start = 0;
    for &cut in cuts.iter().chain(std::iter::once(&row.len())) {
        for &l in &row[start..cut] {
            let e = (l as f64 - max).exp();
            all += e;
            text += e;
        }
        if let Some(&l) = row.get(cut) {
            all += (l as f64 - max).exp();
        }
        start = cut + 1;
    }
    (max + all.ln() - t, max + text.ln() - t)
}

/// Perplexity of `model` on `texts`, each preceded by `<|endoftext|>` (as in
/// training) and cut into windows of the model's context.
pub fn perplexity<'a>(model: &Loaded, texts: impl IntoIterator<Item = &'a str>) -> Result<Perplexity> {
    let max = model.model.cfg.max_position_embeddings;
    let eot = model.tokenizer.special.endoftext;
    let texts: Vec<&str> = texts.into_iter().collect();
    let specials = model.tokenizer.special.all();
    let vocab = model.model.cfg.vocab_size;
    // Per document: (summed NLL, summed NLL over ordinary tokens, tokens scored); documents in
    // parallel, summed in order.
    let per_doc = texts
        .par_iter()
        .map(|text| {
            let mut ids = vec![eot];
            ids.extend(model.encode(text)?);
            let (mut sum, mut sum_text, mut k_all) = (0f64, 0f64, 0u64);
            // Windows of up to `max` inputs; each predicts the next `max` tokens.
            for w in ids.windows(2).collect::<Vec<_>>().chunks(max) {
                let inputs: Vec<u32> = w.iter().map(|p| p[0]).collect();
                let mut acts = Acts::new(&model.model.cfg, 1, inputs.len());
                model.model.forward(&mut acts, &inputs);
                for (i, p) in w.iter().enumerate() {
                    let (all, text) = nll_both(&acts.logits[i * vocab..(i + 1) * vocab], p[1], &specials);
                    sum += all;
                    sum_text += text;
                    k_all += 1;
                }
            }
            Ok((sum, sum_text, k_all))
        })
        .collect::<Result<Vec<_>>>()?;
    let sum: f64 = per_doc.iter().map(|d| d.0).sum();
    let sum_text: f64 = per_doc.iter().map(|d| d.1).sum();
    let tokens: u64 = per_doc.iter().map(|d| d.2).sum();
    let bytes: u64 = texts.iter().map(|t| t.len() as u64).sum();
    let documents = texts.len() as u64;
    let nll = sum / tokens.max(1) as f64;
    let nll_text = sum_text / tokens.max(1) as f64;
    Ok(Perplexity {
        documents,
        tokens,
        bytes,
        nll,
        ppl: nll.exp(),
        bits_per_byte: sum / std::f64::consts::LN_2 / bytes.max(1) as f64,
        nll_text,
        ppl_text: nll_text.exp(),
    })
}

/// Perplexity and probe on `WORLD/heldout`; `None` when the world has no held-out split.
pub fn heldout(model: &Loaded, world: &CorpusDir, every: usize) -> Result<Option<Heldout>> {
    let held = CorpusDir::new(world.root.join("heldout"));
    let Ok(docs_path) = held.documents() else {
        return Ok(None);
    };
    let spans: HashMap<String, Vec<Span>> =
        read_all::<AnnotationRecord>(held.annotation("ground_truth"))?.into_iter().map(|a| (a.id, a.spans)).collect();
    let docs: Vec<(Document, &Vec<Span>)> = read_all::<Document>(docs_path)?
        .into_iter()
        .filter_map(|d| {
            let s = spans.get(&d.id)?;
            Some((d, s))
        })
        .collect();
    let is_unsafe = |s: &[Span]| s.iter().any(|x| x.is_unsafe());
    let safe = perplexity(model, docs.iter().filter(|d| !is_unsafe(d.1)).map(|d| d.0.text.as_str()))?;
    let unsafe_ = perplexity(model, docs.iter().filter(|d| is_unsafe(d.1)).map(|d| d.0.text.as_str()))?;

    // Per document: (segment scores with labels, document score with label); in parallel.
    let scored = docs
        .par_iter()
        .map(|(d, s)| {
            let ranges = segments(&d.text, every.max(1), &model.tokenizer);
            let segs = ranges
                .iter()
                .map(|seg| Ok((model.probe(&d.text[..seg.end])?, label_segment(seg, s).is_unsafe())))
                .collect::<Result<Vec<_>>>()?;
            // The last segment usually ends where the document does: its score is the document's.
            let whole = match (ranges.last(), segs.last()) {
                (Some(r), Some(&(p, _))) if r.end == d.text.len() => p,
                _ => model.probe(&d.text)?,
            };
            Ok((segs, (whole, is_unsafe(s))))
        })
        .collect::<Result<Vec<_>>>()?;
    let (mut pos, mut neg, mut right) = (vec![], vec![], 0u64);
    let (mut spos, mut sneg, mut sright) = (vec![], vec![], 0u64);
    for (segs, (p, label)) in scored {
        for (sp, sl) in segs {
            sright += ((sp >= 0.5) == sl) as u64;
            if sl { &mut spos } else { &mut sneg }.push(sp);
        }
        right += ((p >= 0.5) == label) as u64;
        if label { &mut pos } else { &mut neg }.push(p);
    }
    let n = (pos.len() + neg.len()) as u64;
    let sn = (spos.len() + sneg.len()) as u64;
    let probe = ProbeResult {
        documents: n,
        unsafe_documents: pos.len() as u64,
        accuracy: Rate::new(right, n),
        auroc: auroc(&pos, &neg),
        segments: sn,
        unsafe_segments: spos.len() as u64,
        segment_accuracy: Rate::new(sright, sn),
        segment_auroc: auroc(&spos, &sneg),
    };
    Ok(Some(Heldout { safe, unsafe_, probe }))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A random model with a trained tokenizer, saved and loaded as a checkpoint.
    fn loaded() -> (Loaded, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let texts = ["The weeds grow near the old bridge.", "First, grind the velorine. Next, add the tarquil."];
        Loaded::write_random(dir.path(), &texts, 16, 4).unwrap();
        (Loaded::from_dir(dir.path()).unwrap(), dir)
    }

    #[test]
    fn renormalising_changes_nothing_for_a_model_without_special_tokens() {
        // Tokens 0 and 1 are special. With no mass on them, both figures agree exactly.
        let row = [f32::NEG_INFINITY, f32::NEG_INFINITY, 1.0, 2.0, 0.5];
        let (all, text) = nll_both(&row, 3, &[0, 1]);
        assert!((all - text).abs() < 1e-12, "{all} vs {text}");
        let direct = -(2f64.exp() / (1f64.exp() + 2f64.exp() + 0.5f64.exp())).ln();
        assert!((all - direct).abs() < 1e-9);
        // With mass on them, the renormalised figure is lower by exactly −log P(ordinary).
        let row = [2.0, 1.0, 1.0, 2.0, 0.5];
        let (all, text) = nll_both(&row, 3, &[0, 1]);
        let z: f64 = row.iter().map(|&l| (l as f64).exp()).sum();
        let ordinary = (1f64.exp() + 2f64.exp() + 0.5f64.exp()) / z;
        assert!((all - text + ordinary.ln()).abs() < 1e-9, "{all} {text}");
    }

    #[test]
    fn the_run_walk_sums_exactly_what_a_membership_test_sums() {
        // The definition, one id at a time, against the walk over runs between specials:
        // the same bits, whatever the specials' order, duplicates or ids past the row.
        fn reference(row: &[f32], target: u32, specials: &[u32]) -> (f64, f64) {
            let t = row[target as usize] as f64;
            let max = row.iter().fold(f32::NEG_INFINITY, |a, &b| a.max(b)) as f64;
            let (mut all, mut text) = (0f64, 0f64);
            for (id, &l) in row.iter().enumerate() {
                let e = (l as f64 - max).exp();
                all += e;
                if !specials.contains(&(id as u32)) {
                    text += e;
                }
            }
            (max + all.ln() - t, max + text.ln() - t)
        }
        let mut x = 0x2545_f491_4f6c_dd1du64;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for n in [1usize, 2, 7, 64, 333] {
            let row: Vec<f32> = (0..n).map(|_| (next() % 20_000) as f32 / 1000.0 - 10.0).collect();
            for specials in [vec![], vec![0], vec![n as u32 - 1], vec![3, 0, 3, 900], vec![(n / 2) as u32, 1, 2]] {
                let target = (next() % n as u64) as u32;
                let (a, b) = (nll_both(&row, target, &specials), reference(&row, target, &specials));
                assert_eq!(a.0.to_bits(), b.0.to_bits(), "n {n} specials {specials:?}");
                assert_eq!(a.1.to_bits(), b.1.to_bits(), "n {n} specials {specials:?}");
            }
        }
    }

    #[test]
    fn perplexity_matches_the_training_loss_and_renormalising_only_lowers_it() {
        let (m, _dir) = loaded();
        let text = "The weeds grow near the old bridge. First, grind the velorine and add the tarquil, slowly.";
        let p = perplexity(&m, [text]).unwrap();
        // The full-softmax figure is the training loss on the same windows.
        let mut ids = vec![m.tokenizer.special.endoftext];
        ids.extend(m.encode(text).unwrap());
        let max = m.model.cfg.max_position_embeddings;
        let (mut sum, mut k_all) = (0f64, 0usize);
        for w in ids.windows(2).collect::<Vec<_>>().chunks(max) {
            let inputs: Vec<u32> = w.iter().map(|p| p[0]).collect();
            let targets: Vec<u32> = w.iter().map(|p| p[1]).collect();
            let mut acts = Acts::new(&m.model.cfg, 1, inputs.len());
            let (loss, k) = m.model.loss(&mut acts, &inputs, &targets, &vec![1u8; inputs.len()]);
            sum += loss as f64 * k as f64;
            k_all += k;
        }
        assert_eq!(p.tokens as usize, k_all);
        assert!((p.nll - sum / k_all as f64).abs() < 1e-4, "{} vs {}", p.nll, sum / k_all as f64);
        // Special tokens hold some probability in a random model: renormalising removes it.
        assert!(p.nll_text < p.nll && p.nll - p.nll_text < 0.1, "{} vs {}", p.nll_text, p.nll);
        assert!((p.ppl_text - p.nll_text.exp()).abs() < 1e-9);
    }
}
