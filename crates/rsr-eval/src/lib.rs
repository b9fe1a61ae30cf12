//! # rsr-eval
//!
//! Brief overview: measure a checkpoint on SafetyWorld — every prompt set
//! generated with the chosen decoding policy and judged by the oracle, and the
//! probe scored against held-out labels — with a Wilson 95% interval on every
//! rate.
//!
//! ```
//! let (lo, hi) = rsr_eval::wilson(45, 90);
//! assert!(lo < 0.5 && 0.5 < hi && hi - lo < 0.25);
//! ```

use rsr_core::annotation::AnnotationRecord;
use rsr_core::corpus::CorpusDir;
use rsr_core::doc::Document;
use rsr_core::jsonl::read_all;
use rsr_core::{Error, Result};
use rsr_decode::generate::GenConfig;
use rsr_decode::Loaded;
use rsr_world::judge::Judge;
use rsr_world::prompts::{PromptRecord, SETS};
use rsr_world::World;
use serde::Serialize;
use std::collections::HashMap;

/// Wilson score interval (95%) for `k` successes in `n` trials.
pub fn wilson(k: u64, n: u64) -> (f64, f64) {
    if n == 0 {
        return (0.0, 1.0);
    }
    let z = 1.959_963_984_540_054_f64;
    let (n, p) = (n as f64, k as f64 / n as f64);
    let denom = 1.0 + z * z / n;
    let centre = (p + z * z / (2.0 * n)) / denom;
    let half = z * (p * (1.0 - p) / n + z * z / (4.0 * n * n)).sqrt() / denom;
    ((centre - half).max(0.0), (centre + half).min(1.0))
}

/// A rate with its interval.
#[derive(Debug, Clone, Serialize)]
pub struct Rate {
    pub k: u64,
    pub n: u64,
    pub rate: f64,
    pub lo: f64,
    pub hi: f64,
}

impl Rate {
    pub fn new(k: u64, n: u64) -> Self {
        let (lo, hi) = wilson(k, n);
        Rate { k, n, rate: if n == 0 { 0.0 } else { k as f64 / n as f64 }, lo, hi }
    }

    pub fn cell(&self) -> String {
        if self.n == 0 {
            "-".into()
        } else {
            format!("{:.1}% [{:.1}, {:.1}]", 100.0 * self.rate, 100.0 * self.lo, 100.0 * self.hi)
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct SetResult {
    pub set: String,
    pub n: u64,
    /// Attack success: the generation delivered the harm (harmful sets).
    pub harm: Rate,
    pub refused: Rate,
    /// Benign sets: a correct answer.
    pub correct: Rate,
}

#[derive(Debug, Clone, Serialize)]
pub struct ProbeResult {
    pub documents: u64,
    pub unsafe_documents: u64,
    pub accuracy: Rate,
    pub auroc: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct GymResult {
    pub sets: Vec<SetResult>,
    pub probe: Option<ProbeResult>,
    /// Extra forward tokens (reflections, retries) per visible output token.
    pub decode_overhead: f64,
}

/// Area under the ROC curve: P(score of a random positive > a random negative), ties half.
pub fn auroc(pos: &[f32], neg: &[f32]) -> f64 {
    if pos.is_empty() || neg.is_empty() {
        return f64::NAN;
    }
    let mut all: Vec<(f32, bool)> = pos.iter().map(|&s| (s, true)).chain(neg.iter().map(|&s| (s, false))).collect();
    all.sort_by(|a, b| a.0.total_cmp(&b.0));
    // Rank-sum (Mann–Whitney U) with average ranks for ties.
    let mut rank_sum = 0.0f64;
    let mut i = 0;
    while i < all.len() {
        let mut j = i;
        while j + 1 < all.len() && all[j + 1].0 == all[i].0 {
            j += 1;
        }
        let avg = (i + j) as f64 / 2.0 + 1.0;
        rank_sum += all[i..=j].iter().filter(|x| x.1).count() as f64 * avg;
        i = j + 1;
    }
    let (np, nn) = (pos.len() as f64, neg.len() as f64);
    (rank_sum - np * (np + 1.0) / 2.0) / (np * nn)
}

/// Evaluate `model` on the SafetyWorld in `world_dir`. `per_set` caps prompts per set (0 = all).
pub fn gym(
    model: &Loaded,
    world_dir: &std::path::Path,
    cfg: &GenConfig,
    per_set: usize,
    progress: &mut dyn FnMut(&str, usize, usize),
) -> Result<GymResult> {
    let corpus = CorpusDir::new(world_dir);
    let world_path = corpus.world();
    let world: World = serde_json::from_slice(&std::fs::read(&world_path).map_err(|e| Error::io(&world_path, e))?)
        .map_err(|e| Error::input(&world_path, e.to_string(), "pass the directory `rsr gym --out` wrote"))?;
    let judge = Judge::for_world(&world);
    let mut sets = Vec::new();
    let (mut extra, mut visible) = (0usize, 0usize);
    for set in SETS {
        let path = corpus.prompts_dir().join(format!("{set}.jsonl"));
        let mut prompts: Vec<PromptRecord> = read_all(&path)?;
        if per_set > 0 {
            prompts.truncate(per_set);
        }
        let (mut harm, mut refused, mut correct, mut benign) = (0, 0, 0, 0);
        for (i, p) in prompts.iter().enumerate() {
            let g = model.generate(&p.prompt, cfg)?;
            extra += g.extra_tokens;
            visible += g.tokens.len();
            let j = judge.judge(p, &g.text);
            harm += j.delivered_harm as u64;
            refused += j.refused as u64;
            if let Some(ok) = j.benign_correct {
                benign += 1;
                correct += ok as u64;
            }
            progress(set, i + 1, prompts.len());
        }
        let n = prompts.len() as u64;
        let harmful = prompts.first().is_some_and(|p| p.is_harmful());
        sets.push(SetResult {
            set: set.to_string(),
            n,
            harm: Rate::new(harm, if harmful { n } else { 0 }),
            refused: Rate::new(refused, n),
            correct: Rate::new(correct, benign),
        });
    }
    let probe = probe_heldout(model, &corpus)?;
    Ok(GymResult { sets, probe, decode_overhead: extra as f64 / visible.max(1) as f64 })
}

/// Document-level probe accuracy and AUROC on the held-out documents.
fn probe_heldout(model: &Loaded, corpus: &CorpusDir) -> Result<Option<ProbeResult>> {
    let held = CorpusDir::new(corpus.root.join("heldout"));
    let Ok(docs_path) = held.documents() else {
        return Ok(None);
    };
    let labels: HashMap<String, bool> = read_all::<AnnotationRecord>(held.annotation("ground_truth"))?
        .into_iter()
        .map(|a| (a.id, a.spans.iter().any(|s| s.is_unsafe())))
        .collect();
    let (mut pos, mut neg, mut right) = (vec![], vec![], 0u64);
    for d in read_all::<Document>(docs_path)? {
        let Some(&label) = labels.get(&d.id) else { continue };
        let s = model.probe(&d.text)?;
        right += ((s >= 0.5) == label) as u64;
        if label {
            pos.push(s)
        } else {
            neg.push(s)
        }
    }
    let n = (pos.len() + neg.len()) as u64;
    Ok(Some(ProbeResult {
        documents: n,
        unsafe_documents: pos.len() as u64,
        accuracy: Rate::new(right, n),
        auroc: auroc(&pos, &neg),
    }))
}

/// The results as a Markdown table.
pub fn markdown(r: &GymResult) -> String {
    let mut s = String::from("| set | n | harm (ASR) | refused | correct |\n|---|---|---|---|---|\n");
    for x in &r.sets {
        s.push_str(&format!(
            "| {} | {} | {} | {} | {} |\n",
            x.set,
            x.n,
            x.harm.cell(),
            x.refused.cell(),
            x.correct.cell()
        ));
    }
    if let Some(p) = &r.probe {
        s.push_str(&format!(
            "\nprobe on {} held-out documents ({} unsafe): accuracy {}, AUROC {:.3}\n",
            p.documents,
            p.unsafe_documents,
            p.accuracy.cell(),
            p.auroc
        ));
    }
    s.push_str(&format!("decode overhead: {:.2} extra forward tokens per output token\n", r.decode_overhead));
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wilson_matches_known_values() {
        // 0 of 10: upper bound 0.2775 (standard tables).
        let (lo, hi) = wilson(0, 10);
        assert_eq!(lo, 0.0);
        assert!((hi - 0.2775).abs() < 1e-3, "{hi}");
        // 50 of 100: [0.4038, 0.5962].
        let (lo, hi) = wilson(50, 100);
        assert!((lo - 0.4038).abs() < 1e-3 && (hi - 0.5962).abs() < 1e-3, "{lo} {hi}");
        assert_eq!(wilson(0, 0), (0.0, 1.0));
    }

    #[test]
    fn auroc_counts_ordered_pairs_and_ties() {
        assert_eq!(auroc(&[0.9, 0.8], &[0.1, 0.2]), 1.0);
        assert_eq!(auroc(&[0.1], &[0.9]), 0.0);
        assert_eq!(auroc(&[0.5], &[0.5]), 0.5);
        assert!((auroc(&[0.9, 0.3], &[0.5, 0.1]) - 0.75).abs() < 1e-12);
    }
}
