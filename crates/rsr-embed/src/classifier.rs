//! The `minilm` safety classifier: all-MiniLM-L6-v2 sentence embeddings with
//! logistic heads ([`rsr_classify::dense`]) — `unsafe`, and one per category.
//!
//! Saved as one small JSON file (the heads, ~12 KB per head); the encoder's
//! weights are not copied into it but found at load time ([`locate`](crate::minilm::locate)), and the
//! file names the encoder it was trained on.

use crate::minilm::{self, MiniLm, DIM, MAX_TOKENS};
use rsr_classify::dense::{DenseConfig, DenseHeads};
use rsr_classify::Example;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// The `format` field of a saved `minilm` classifier.
pub const FORMAT: &str = "rsr minilm classifier v1";
const ENCODER: &str = "sentence-transformers/all-MiniLM-L6-v2";

#[derive(Debug, Serialize, Deserialize)]
struct File {
    format: String,
    encoder: String,
    pooling: String,
    max_tokens: usize,
    #[serde(flatten)]
    heads: DenseHeads,
}

/// Embeddings of many texts, in batches of similar length (less padding),
/// returned in the input order; `progress(done)` after each batch, `done` counting the texts
/// (with their repeats) embedded so far. A text that occurs more than once is embedded once:
/// corpora repeat sentences (SafetyWorld's 24,000 documents hold 108,071 sentences, 14,118 of
/// them distinct; web text repeats its boilerplate), so the embedding does not depend on how
/// often a text occurs, and a repeated corpus costs what its distinct sentences cost.
pub fn embed_all(
    encoder: &MiniLm,
    texts: &[&str],
    batch: usize,
    progress: &mut dyn FnMut(usize),
) -> minilm::Result<Vec<Vec<f32>>> {
    // Each distinct text once (in order of first occurrence), with how many times it occurs.
    let mut index: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
    let mut distinct: Vec<(&str, usize)> = Vec::new();
    let slot: Vec<usize> = texts
        .iter()
        .map(|&t| {
            *index.entry(t).or_insert_with(|| {
                distinct.push((t, 0));
                distinct.len() - 1
            })
        })
        .collect();
    for &k in &slot {
        distinct[k].1 += 1;
    }
    let mut order: Vec<usize> = (0..distinct.len()).collect();
    order.sort_by_key(|&k| distinct[k].0.len());
    let mut embedded = vec![Vec::new(); distinct.len()];
    let mut done = 0;
    for chunk in order.chunks(batch.max(1)) {
        let batch: Vec<&str> = chunk.iter().map(|&k| distinct[k].0).collect();
        for (&k, v) in chunk.iter().zip(encoder.embed(&batch)?) {
            embedded[k] = v;
            done += distinct[k].1;
        }
        progress(done);
    }
    Ok(slot.into_iter().map(|k| embedded[k].clone()).collect())
}

/// Heads trained on all-MiniLM-L6-v2 embeddings, with the encoder to apply them.
pub struct MinilmClassifier {
    pub encoder: MiniLm,
    pub heads: DenseHeads,
    /// What it scored, by sentence ([`Scored`]).
    pub(crate) scored: Scored,
}

/// The scores a classifier has given, by text, so that a sentence met again — in another
/// document of a stream — costs nothing: corpora repeat their sentences (SafetyWorld's default
/// world 108,071 sentences, 14,118 distinct; web text its boilerplate). A text keeps the score of
/// the batch it was first met in (a text's embedding moves in its last bits with the padding of
/// its batch), so a stream read in one order is labelled one way. Holds at most [`Scored::MAX`]
/// texts; past that, new ones are scored and not kept.
#[derive(Default)]
pub(crate) struct Scored(std::sync::Mutex<std::collections::HashMap<String, (f32, Option<String>)>>);

impl Scored {
    /// 100–200 MB of short sentences with their scores.
    pub const MAX: usize = 1 << 20;

    /// The kept scores of `texts` (None where not kept).
    pub fn get(&self, texts: &[&str]) -> Vec<Option<(f32, Option<String>)>> {
        let kept = self.0.lock().unwrap_or_else(|e| e.into_inner());
        texts.iter().map(|t| kept.get(*t).cloned()).collect()
    }

    /// How many texts it keeps a score for.
    pub fn len(&self) -> usize {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    /// Keep `score` for `text`, while there is room.
    pub fn keep(&self, text: &str, score: &(f32, Option<String>)) {
        let mut kept = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if kept.len() < Self::MAX {
            kept.entry(text.to_string()).or_insert_with(|| score.clone());
        }
    }
}

impl MinilmClassifier {
    /// Fit the heads on `embeddings[i]` labelled by `data[i]` (from [`embed_all`]).
    pub fn train(
        encoder: MiniLm,
        embeddings: &[Vec<f32>],
        data: &[Example],
        cfg: &DenseConfig,
    ) -> rsr_core::Result<Self> {
        Ok(Self { encoder, heads: DenseHeads::train(embeddings, data, cfg)?, scored: Scored::default() })
    }

    pub fn save(&self, path: &Path) -> rsr_core::Result<()> {
        let file = File {
            format: FORMAT.into(),
            encoder: ENCODER.into(),
            pooling: "mean over tokens, L2-normalised".into(),
            max_tokens: MAX_TOKENS,
            heads: self.heads.clone(),
        };
        let bytes = serde_json::to_vec(&file).map_err(|e| rsr_core::Error::Invalid(e.to_string()))?;
        rsr_core::atomic::write_all(path, &bytes)
    }

    /// Load the heads from `path` and the encoder from `encoder_dir` (or [`minilm::locate`]'s search).
    pub fn load(path: &Path, encoder_dir: Option<&Path>) -> rsr_core::Result<Self> {
        let heads = load_heads(path)?;
        let encoder = minilm::locate(encoder_dir)
            .and_then(|dir| MiniLm::load(&dir))
            .map_err(|e| rsr_core::Error::input(path, e.to_string(), "the minilm classifier needs its encoder"))?;
        Ok(Self { encoder, heads, scored: Scored::default() })
    }

    /// How many sentences the classifier keeps a score for, as the `SafetyScorer`
    /// (`rsr_corpus::annotator`) that has scored a stream.
    pub fn kept(&self) -> usize {
        self.scored.len()
    }

    /// P(unsafe) of each text.
    pub fn scores(&self, texts: &[&str], progress: &mut dyn FnMut(usize)) -> minilm::Result<Vec<f32>> {
        Ok(embed_all(&self.encoder, texts, 32, progress)?.iter().map(|v| self.heads.score(v)).collect())
    }

    /// P(unsafe) of each text and, where it reaches `threshold`, the most likely category.
    pub fn predict(
        &self,
        texts: &[&str],
        threshold: f32,
        progress: &mut dyn FnMut(usize),
    ) -> minilm::Result<Vec<(f32, Option<String>)>> {
        Ok(embed_all(&self.encoder, texts, 32, progress)?
            .iter()
            .map(|v| {
                let (p, c) = self.heads.predict(v, threshold);
                (p, c.map(str::to_string))
            })
            .collect())
    }
}

/// The heads of a saved `minilm` classifier (checked against the encoder's width).
pub fn load_heads(path: &Path) -> rsr_core::Result<DenseHeads> {
    let bytes = std::fs::read(path).map_err(|e| rsr_core::Error::io(path, e))?;
    let bad = |why: String| rsr_core::Error::input(path, why, "train one with `rsr classifier train --kind minilm`");
    let file: File = serde_json::from_slice(&bytes).map_err(|e| bad(format!("not a minilm classifier: {e}")))?;
    if file.format != FORMAT {
        return Err(bad(format!("format is `{}`, expected `{FORMAT}`", file.format)));
    }
    if file.encoder != ENCODER || file.heads.dim != DIM {
        return Err(bad(format!(
            "trained on {} ({} dims); this build embeds with {ENCODER} ({DIM})",
            file.encoder, file.heads.dim
        )));
    }
    if let Some(h) = file.heads.heads.iter().find(|h| h.weights.len() != DIM) {
        return Err(bad(format!("head `{}` has {} weights, expected {DIM}", h.name, h.weights.len())));
    }
    let weights: Vec<f32> = file.heads.heads.iter().flat_map(|h| h.weights.iter().copied().chain([h.bias])).collect();
    rsr_classify::check_heads(file.heads.heads.iter().map(|h| h.name.as_str()), &weights).map_err(bad)?;
    Ok(file.heads)
}

/// Whether `path` looks like a saved `minilm` classifier (JSON with its format) rather than a `hashed` one.
pub fn is_minilm_file(path: &Path) -> bool {
    use std::io::Read;
    let mut head = [0u8; 64];
    let n = std::fs::File::open(path).and_then(|mut f| f.read(&mut head)).unwrap_or(0);
    let s = String::from_utf8_lossy(&head[..n]);
    s.trim_start().starts_with('{') && s.contains("minilm")
}
