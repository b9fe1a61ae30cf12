//! A linear probe on a model's hidden states, as a monitor for the variants that have no
//! safety signal of their own (raw, filter, rewrite, refuse).
//!
//! Fitted per model: every labelled sentence of (the first `docs` of) the world's training
//! documents is read in its document, and the final hidden state (after the last norm) at the
//! sentence's last token is one example, labelled by the annotation the variants were built
//! from; logistic heads (`rsr_classify::dense`: Newton's method, balanced classes, L2 chosen by
//! cross-validation) fit them. As a monitor it scores the hidden state at each check of a
//! generation (the prompt and the answer so far in context), under the same decoding rule and θ
//! rule as every other monitor ([`crate::operating`]).

use super::{Fit, Generated, Monitor, MonitorKind};
use rsr_classify::dense::{DenseConfig, DenseHeads};
use rsr_classify::Example;
use rsr_core::annotation::AnnotationRecord;
use rsr_core::corpus::CorpusDir;
use rsr_core::doc::Document;
use rsr_core::jsonl::read_all;
use rsr_core::Result;
use rsr_decode::Loaded;
use std::collections::HashMap;

/// Training documents a linear probe reads (each sentence one example).
pub const PROBE_DOCS: usize = 3000;

pub const KIND: MonitorKind = MonitorKind {
    name: "linear-probe",
    summary: "logistic heads on the model's final hidden state at each check (variants without their own signal)",
    per_model: true,
    // For the variants without a safety signal of their own.
    fit: |f: &Fit| match f.model {
        Some(model) if !f.own_signal => {
            Ok(Some(Box::new(LinearProbe::train(model, f.suite, f.labels, PROBE_DOCS)?) as Box<dyn Monitor>))
        }
        _ => Ok(None),
    },
};

pub struct LinearProbe {
    heads: DenseHeads,
    dim: usize,
}

impl LinearProbe {
    /// Fit on the sentences of the first `docs` training documents of `world`, labelled by
    /// annotation `labels`.
    pub fn train(model: &Loaded, suite: &crate::gym::WorldSuite, labels: &str, docs: usize) -> Result<Self> {
        use rayon::prelude::*;
        let dir: &CorpusDir = &suite.dir;
        let documents: Vec<Document> = read_all::<Document>(dir.documents()?)?.into_iter().take(docs).collect();
        let spans: HashMap<String, AnnotationRecord> =
            read_all::<AnnotationRecord>(dir.annotation(labels))?.into_iter().map(|a| (a.id.clone(), a)).collect();
        let dim = model.model.cfg.hidden_size;
        let max = model.model.cfg.max_position_embeddings;
        let per_doc: Vec<Vec<(Vec<f32>, Example)>> = documents
            .par_iter()
            .map(|d| -> Result<Vec<(Vec<f32>, Example)>> {
                let Some(ann) = spans.get(&d.id) else { return Ok(vec![]) };
                let (mut ids, offsets) = model.tokenizer.encode_text(&d.text)?;
                ids.truncate(max);
                if ids.is_empty() {
                    return Ok(vec![]);
                }
                let hidden = model.model.hidden_states(&ids);
                Ok(ann
                    .spans
                    .iter()
                    .filter_map(|s| {
                        // The sentence's last token: the last one that starts inside it.
                        let last = offsets[..ids.len()].iter().rposition(|o| o.0 < s.end && o.1 > s.start)?;
                        let x = hidden[last * dim..(last + 1) * dim].to_vec();
                        let e = Example {
                            text: String::new(),
                            label: s.is_unsafe(),
                            category: s.category.map(|c| c.slug().to_string()),
                        };
                        Some((x, e))
                    })
                    .collect())
            })
            .collect::<Result<_>>()?;
        let (x, data): (Vec<Vec<f32>>, Vec<Example>) = per_doc.into_iter().flatten().unzip();
        if !data.iter().any(|e| e.label) || data.iter().all(|e| e.label) {
            return Err(rsr_core::Error::Invalid(format!(
                "the linear probe needs safe and unsafe sentences; annotation `{labels}` of {} has one kind only",
                dir.root.display()
            )));
        }
        let heads = DenseHeads::train(&x, &data, &DenseConfig::default())?;
        Ok(LinearProbe { heads, dim })
    }

    /// P(unsafe) from the hidden state at each of `positions` of `tokens` read in one pass
    /// (a position beyond the model's context scores as not a number: unsafe).
    pub fn scores(&self, model: &Loaded, tokens: &[u32], positions: &[usize]) -> Vec<f32> {
        let max = model.model.cfg.max_position_embeddings;
        let n = tokens.len().min(max);
        if n == 0 {
            return vec![f32::NAN; positions.len()];
        }
        let hidden = model.model.hidden_states(&tokens[..n]);
        positions
            .iter()
            .map(|&p| if p < n { self.heads.score(&hidden[p * self.dim..(p + 1) * self.dim]) } else { f32::NAN })
            .collect()
    }
}

impl Monitor for LinearProbe {
    fn name(&self) -> &str {
        KIND.name
    }

    fn score(&self, g: &Generated) -> Result<Vec<(usize, f32)>> {
        // The prompt and the answer, read as the decoder kept them (the end of the context when
        // it overflows); the state at each check's last token.
        let max = g.model.model.cfg.max_position_embeddings;
        let mut ctx = g.prompt_ids.to_vec();
        ctx.extend_from_slice(&g.output.tokens);
        let cut = ctx.len().saturating_sub(max);
        let at: Vec<usize> = g.checks.iter().map(|&e| (g.prompt_ids.len() + e).saturating_sub(1 + cut)).collect();
        Ok(g.checks.iter().copied().zip(self.scores(g.model, &ctx[cut..], &at)).collect())
    }
}
