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
        check_threshold(self.threshold)?;
        let ranges = sentences(text);
        let texts: Vec<&str> = ranges.iter().map(|r| &text[r.clone()]).collect();
        let scores = self.scorer.score(&texts, &mut |_| {})?;
        // A score that is not a number (damaged weights) would label nothing unsafe: an error.
        if let Some((p, _)) = scores.iter().find(|(p, _)| !p.is_finite()) {
            return Err(rsr_core::Error::Invalid(format!(
                "the classifier scored a sentence {p}: its weights are damaged (retrain it, or use another file)"
            )));
        }
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
/// A sentence threshold must be a number in [0, 1]: NaN, infinity or anything above 1 would label
/// nothing unsafe.
pub fn check_threshold(threshold: f32) -> rsr_core::Result<()> {
    if (0.0..=1.0).contains(&threshold) {
        Ok(())
    } else {
        Err(rsr_core::Error::Invalid(format!(
            "--threshold must be in [0, 1], got {threshold}: anything else would label no sentence unsafe"
        )))
    }
}

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

#[cfg(test)]
mod tests {
    use super::*;

    /// A scorer whose weights went bad: every score is `p`.
    struct Constant(f32);

    impl SafetyScorer for Constant {
        fn describe(&self) -> serde_json::Value {
            serde_json::json!({ "annotator": "constant" })
        }
        fn score(&self, texts: &[&str], _: &mut dyn FnMut(usize)) -> rsr_core::Result<Vec<(f32, Option<String>)>> {
            Ok(texts.iter().map(|_| (self.0, None)).collect())
        }
    }

    #[test]
    fn scores_and_thresholds_that_would_label_nothing_unsafe_are_errors() {
        let text = "Mix the powder. Stir it.";
        let a =
            |p: f32, threshold: f32| SentenceAnnotator { scorer: Constant(p), threshold, fallback: Category::Weapons };
        assert_eq!(a(0.9, 0.5).annotate(text).unwrap().iter().filter(|s| s.is_unsafe()).count(), 2);
        assert!(a(f32::NAN, 0.5).annotate(text).unwrap_err().to_string().contains("NaN"));
        assert!(a(f32::INFINITY, 0.5).annotate(text).is_err());
        for t in [f32::NAN, 2.0, f32::INFINITY, -0.1] {
            assert!(a(0.9, t).annotate(text).unwrap_err().to_string().contains("--threshold"), "{t}");
        }
    }
}
