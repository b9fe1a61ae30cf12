//! The `minilm` corpus annotator: every sentence of a document embedded (one
//! batch per document) and scored by the classifier's heads.

use crate::classifier::MinilmClassifier;
use rsr_core::annotation::Span;
use rsr_core::taxonomy::Category;
use rsr_corpus::annotator::{sentence_span, Annotator};
use rsr_corpus::segment::sentences;

/// Unsafe when P(unsafe) ≥ threshold; the category from the category heads (or `fallback`).
pub struct Minilm {
    pub classifier: MinilmClassifier,
    pub threshold: f32,
    pub fallback: Category,
    /// Sentences per forward pass.
    pub batch: usize,
}

impl Annotator for Minilm {
    fn describe(&self) -> serde_json::Value {
        serde_json::json!({
            "annotator": "minilm",
            "encoder": "sentence-transformers/all-MiniLM-L6-v2",
            "heads": self.classifier.heads.names(),
            "threshold": self.threshold,
            "fallback_category": self.fallback,
        })
    }

    fn annotate(&self, text: &str) -> rsr_core::Result<Vec<Span>> {
        let ranges = sentences(text);
        let texts: Vec<&str> = ranges.iter().map(|r| &text[r.clone()]).collect();
        let emb = crate::classifier::embed_all(&self.classifier.encoder, &texts, self.batch, &mut |_| {})
            .map_err(|e| rsr_core::Error::Invalid(e.to_string()))?;
        Ok(ranges
            .into_iter()
            .zip(&emb)
            .map(|(r, v)| {
                let (p, category) = self.classifier.heads.predict(v, self.threshold);
                sentence_span(r, p, category, self.threshold, self.fallback)
            })
            .collect())
    }
}
