//! Annotators that label text themselves (as opposed to reading labels): one
//! trait, so a run can pick its classifier. `hashed` is the fastText-style
//! classifier of `rsr-classify`, applied sentence by sentence.
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

/// The `hashed` classifier on every sentence: unsafe when P(unsafe) ≥ threshold;
/// the category from the classifier's category heads (or `fallback`).
pub struct Hashed {
    pub classifier: Classifier,
    pub threshold: f32,
    pub fallback: Category,
}

impl Annotator for Hashed {
    fn describe(&self) -> serde_json::Value {
        serde_json::json!({ "annotator": "hashed", "heads": self.classifier.heads, "threshold": self.threshold, "fallback_category": self.fallback })
    }

    fn annotate(&self, text: &str) -> rsr_core::Result<Vec<Span>> {
        Ok(sentences(text)
            .into_iter()
            .map(|r| {
                let (p, category) = self.classifier.predict(&text[r.clone()], self.threshold);
                sentence_span(r, p, category, self.threshold, self.fallback)
            })
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
