//! Annotators that label text themselves (as opposed to reading labels): one
//! trait, so a run can pick its classifier, and one sentence annotator over
//! any [`SafetyScorer`] (the `hashed` classifier of `rsr-classify` here; the
//! `minilm` classifier and the endpoint judge in their own crates).
//!
//! Also here: sentence-level training examples from a labelled corpus, so a
//! classifier can be trained on one corpus's annotations and applied to another.

use crate::label::label_segment;
use crate::segment::sentences;
use rsr_classify::{Classifier, Example};
use rsr_core::annotation::{LabelKind, Span};
use rsr_core::taxonomy::Category;

/// Labels a document's text with spans (byte ranges, label, category, score).
pub trait Annotator: Sync {
    /// What goes into the manifest.
    fn describe(&self) -> serde_json::Value;
    fn annotate(&self, text: &str) -> rsr_core::Result<Vec<Span>>;
}

/// A safety classifier: texts → P(unsafe) and the most likely category (a taxonomy slug, or
/// `None` without category heads). The `hashed` classifier, the `minilm` classifier and the
/// endpoint judge implement it; [`SentenceAnnotator`] turns any of them into an annotator,
/// and the evaluation turns any of them into a response judge.
pub trait SafetyScorer: Send + Sync {
    /// What the manifest records (at least `annotator`: the kind).
    fn describe(&self) -> serde_json::Value;
    /// Score `texts`; `progress(done)` as it goes.
    fn score(&self, texts: &[&str], progress: &mut dyn FnMut(usize)) -> rsr_core::Result<Vec<(f32, Option<String>)>>;
}

impl<S: SafetyScorer + ?Sized> SafetyScorer for Box<S> {
    fn describe(&self) -> serde_json::Value {
        (**self).describe()
    }
    fn score(&self, texts: &[&str], progress: &mut dyn FnMut(usize)) -> rsr_core::Result<Vec<(f32, Option<String>)>> {
        (**self).score(texts, progress)
    }
}

/// The `hashed` classifier as a scorer.
impl SafetyScorer for Classifier {
    fn describe(&self) -> serde_json::Value {
        serde_json::json!({ "annotator": "hashed", "heads": self.heads })
    }
    fn score(&self, texts: &[&str], progress: &mut dyn FnMut(usize)) -> rsr_core::Result<Vec<(f32, Option<String>)>> {
        let out = texts
            .iter()
            .map(|t| {
                let (p, category) = self.predict(t, f32::NEG_INFINITY);
                (p, category.map(str::to_string))
            })
            .collect();
        progress(texts.len());
        Ok(out)
    }
}

/// Any scorer applied to every sentence (one batch per document): a sentence is unsafe when
/// P(unsafe) ≥ `threshold`, with the scorer's category (or `fallback`).
pub struct SentenceAnnotator<S> {
    pub scorer: S,
    pub threshold: f32,
    pub fallback: Category,
}

impl<S: SafetyScorer> Annotator for SentenceAnnotator<S> {
    fn describe(&self) -> serde_json::Value {
        let mut d = self.scorer.describe();
        if let Some(o) = d.as_object_mut() {
            o.insert("threshold".into(), self.threshold.into());
            o.insert("fallback_category".into(), serde_json::json!(self.fallback));
        }
        d
    }

    fn annotate(&self, text: &str) -> rsr_core::Result<Vec<Span>> {
        let ranges = sentences(text);
        let texts: Vec<&str> = ranges.iter().map(|r| &text[r.clone()]).collect();
        let scores = self.scorer.score(&texts, &mut |_| {})?;
        Ok(ranges
            .into_iter()
            .zip(scores)
            .map(|(r, (p, category))| sentence_span(r, p, category.as_deref(), self.threshold, self.fallback))
            .collect())
    }
}

/// A sentence's span from a classifier's P(unsafe) and predicted category:
/// unsafe when `p` ≥ `threshold`, with the category when it names one of the
/// taxonomy's, else `fallback`.
pub fn sentence_span(
    r: std::ops::Range<usize>,
    p: f32,
    category: Option<&str>,
    threshold: f32,
    fallback: Category,
) -> Span {
    let unsafe_ = p >= threshold;
    let category = unsafe_.then(|| category.and_then(|c| c.parse().ok()).unwrap_or(fallback));
    Span {
        start: r.start,
        end: r.end,
        label: if unsafe_ { LabelKind::Unsafe } else { LabelKind::Safe },
        category,
        score: Some(p),
    }
}

/// One example per sentence of `text`, labelled by `spans` (unsafe when an
/// unsafe span overlaps it, with that span's category).
pub fn sentence_examples(text: &str, spans: &[Span]) -> Vec<Example> {
    sentences(text)
        .into_iter()
        .map(|r| {
            let l = label_segment(&r, spans);
            Example {
                text: text[r].to_string(),
                label: l.is_unsafe(),
                category: l.category.map(|c| c.slug().to_string()),
            }
        })
        .collect()
}
