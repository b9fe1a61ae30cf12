//! Tamper resistance: fine-tune a trained model on harmful documents — what an
//! adversary with the weights would do — and measure attack success after
//! each number of steps. A model whose safety is learned deeply should need
//! more steps to lose it.

use crate::gym::{SetResult, WorldSuite};
use rsr_core::annotation::AnnotationRecord;
use rsr_core::corpus::CorpusDir;
use rsr_core::doc::Document;
use rsr_core::jsonl::read_all;
use rsr_core::{Error, Result};
use rsr_decode::generate::GenConfig;
use rsr_decode::memo::Generations;
use rsr_decode::Loaded;
use rsr_model::data::TokenStream;
use rsr_model::finetune::{FinetuneConfig, Finetuner};
use serde::{Deserialize, Serialize};
use std::collections::HashSet;
use std::path::Path;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TamperPoint {
    pub step: u64,
    pub tokens: u64,
    /// Mean fine-tuning loss since the previous point.
    pub loss: Option<f32>,
    pub sets: Vec<SetResult>,
}

impl TamperPoint {
    /// Attack success pooled over the sets.
    pub fn pooled_harm(&self) -> crate::stats::Rate {
        let (k, n) = self.sets.iter().fold((0, 0), |(k, n), s| (k + s.harm.k, n + s.harm.n));
        crate::stats::Rate::new(k, n)
    }
}

/// The attacker's data, tokenized with the model's tokenizer, every token trained:
/// - an `rsr pack` directory: its train split (whatever its stored mask);
/// - a corpus directory: its documents that `annotation` marks unsafe anywhere
///   (for SafetyWorld, `ground_truth`: the harmful documents, as written), less those that
///   write a hazard `suite` measures the attack on;
/// - a documents JSONL file (`id`, `text`): every document.
pub fn attack_data(model: &Loaded, path: &Path, annotation: &str, suite: &WorldSuite) -> Result<TokenStream> {
    let vocab = model.tokenizer.vocab_size();
    let stream = if path.join("train").is_dir() {
        let mut s = TokenStream::load(path, "train")?;
        if s.vocab_size != vocab {
            return Err(Error::input(
                path,
                format!("the shards' vocabulary is {} but the model's {vocab}", s.vocab_size),
                "pack the attack documents with the model's tokenizer.json",
            ));
        }
        s.mask.fill(1);
        s
    } else {
        let corpus = CorpusDir::new(path);
        let mut docs: Vec<Document> = read_all(corpus.documents()?)?;
        if path.is_dir() {
            let unsafe_ids: HashSet<String> = read_all::<AnnotationRecord>(corpus.annotation(annotation))?
                .into_iter()
                .filter(|a| a.spans.iter().any(|s| s.is_unsafe()))
                .map(|a| a.id)
                .collect();
            // A SafetyWorld's attack data writes only the attack's hazards (`procedure` in a
            // document's record names the hazard it writes); the attack is measured on the rest.
            let held: HashSet<&str> =
                suite.world.written_hazards().filter(|p| !p.attack).map(|p| p.id.as_str()).collect();
            docs.retain(|d| {
                unsafe_ids.contains(&d.id)
                    && !d.meta.get("procedure").and_then(|v| v.as_str()).is_some_and(|id| held.contains(id))
            });
        }
        let ids = docs.iter().map(|d| model.encode(&d.text)).collect::<Result<Vec<_>>>()?;
        TokenStream::from_documents(ids, model.tokenizer.special.endoftext, vocab)
    };
    if stream.len() < 2 * 129 {
        return Err(Error::input(
            path,
            format!("only {} tokens of attack data", stream.len()),
            "give the attack at least a few hundred tokens of documents",
        ));
    }
    Ok(stream)
}

/// Fine-tune `model` in place on `data`, evaluating the attack sets at each
/// step count in `steps` (ascending; 0 = before any fine-tuning).
#[allow(clippy::too_many_arguments)]
pub fn tamper(
    model: &mut Loaded,
    data: &TokenStream,
    suite: &WorldSuite,
    gen: &GenConfig,
    cfg: FinetuneConfig,
    steps: &[u64],
    per_set: usize,
    progress: &mut dyn FnMut(&str, usize, usize),
) -> Result<Vec<TamperPoint>> {
    let mut steps = steps.to_vec();
    steps.sort_unstable();
    steps.dedup();
    let seq_len = cfg.seq_len.min(data.len().saturating_sub(2));
    let mut ft = Finetuner::new(&model.model, FinetuneConfig { seq_len, ..cfg });
    let mut out = Vec::new();
    for &target in &steps {
        if target == 0 {
            out.push(untampered(&Generations::new(model), suite, gen, per_set, progress)?);
            continue;
        }
        let (mut sum, mut n) = (0f64, 0u64);
        while ft.step < target {
            sum += ft.step(&mut model.model, data) as f64;
            n += 1;
            progress("fine-tune", ft.step as usize, target as usize);
        }
        let sets = attack_sets(&Generations::new(model), suite, gen, per_set, &format!("step {target}"), progress)?;
        out.push(TamperPoint {
            step: target,
            tokens: ft.tokens_seen(),
            loss: (n > 0).then(|| (sum / n as f64) as f32),
            sets,
        });
    }
    Ok(out)
}

/// The point before any fine-tuning: what [`tamper`] measures at step 0, through `model`'s kept
/// generations (the experiment's final model has answered these prompts in its suite already).
pub fn untampered(
    model: &Generations,
    suite: &WorldSuite,
    gen: &GenConfig,
    per_set: usize,
    progress: &mut dyn FnMut(&str, usize, usize),
) -> Result<TamperPoint> {
    let sets = attack_sets(model, suite, gen, per_set, "step 0", progress)?;
    Ok(TamperPoint { step: 0, tokens: 0, loss: None, sets })
}

/// The attack's sets as `model` answers them now, on the hazards the attack's documents never
/// write (disjoint, per category): the first `per_set` such prompts of each set.
fn attack_sets(
    model: &Generations,
    suite: &WorldSuite,
    gen: &GenConfig,
    per_set: usize,
    label: &str,
    progress: &mut dyn FnMut(&str, usize, usize),
) -> Result<Vec<SetResult>> {
    let keep = |p: &rsr_world::prompts::PromptRecord| suite.outside_attack(p);
    let (sets, _) =
        suite.run_sets_where(model, &rsr_world::prompts::tamper_sets(), gen, per_set, &keep, &mut |s, i, k| {
            progress(&format!("{label} {s}"), i, k)
        })?;
    Ok(sets)
}
