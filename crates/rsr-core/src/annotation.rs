//! Annotations: safety labels on byte spans of a document, stored beside the
//! documents (one JSONL file per annotator, keyed by document id).
//!
//! ```json
//! {"id":"doc-17","spans":[{"start":0,"end":41,"label":"safe"},
//!                         {"start":42,"end":97,"label":"unsafe","category":"weapons","score":1.0}]}
//! ```
//! Spans are `[start, end)` in bytes of the UTF-8 text and must fall on
//! character boundaries. `score` is P(unsafe) in `[0, 1]`; when absent it is
//! 1 for unsafe spans and 0 for safe ones. Text not covered by any span is
//! treated as safe.

use crate::taxonomy::Category;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LabelKind {
    Safe,
    Unsafe,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Span {
    pub start: usize,
    pub end: usize,
    pub label: LabelKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<Category>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub score: Option<f32>,
}

impl Span {
    pub fn safe(start: usize, end: usize) -> Self {
        Self { start, end, label: LabelKind::Safe, category: None, score: None }
    }

    pub fn unsafe_(start: usize, end: usize, category: Category) -> Self {
        Self { start, end, label: LabelKind::Unsafe, category: Some(category), score: None }
    }

    pub fn is_unsafe(&self) -> bool {
        self.label == LabelKind::Unsafe
    }

    /// P(unsafe) of this span.
    pub fn score(&self) -> f32 {
        self.score.unwrap_or(if self.is_unsafe() { 1.0 } else { 0.0 })
    }

    /// Check the span against the text it labels.
    pub fn validate(&self, text: &str) -> std::result::Result<(), String> {
        if self.start >= self.end || self.end > text.len() {
            return Err(format!(
                "span [{}, {}) is empty or outside the text ({} bytes)",
                self.start,
                self.end,
                text.len()
            ));
        }
        if !text.is_char_boundary(self.start) || !text.is_char_boundary(self.end) {
            return Err(format!("span [{}, {}) splits a UTF-8 character", self.start, self.end));
        }
        if self.is_unsafe() && self.category.is_none() {
            return Err(format!("unsafe span [{}, {}) has no category", self.start, self.end));
        }
        if let Some(s) = self.score {
            if !(0.0..=1.0).contains(&s) {
                return Err(format!("span [{}, {}) has score {s} outside [0, 1]", self.start, self.end));
            }
        }
        Ok(())
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AnnotationRecord {
    pub id: String,
    pub spans: Vec<Span>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_shape_is_the_documented_one() {
        let rec =
            AnnotationRecord { id: "d".into(), spans: vec![Span::safe(0, 4), Span::unsafe_(5, 9, Category::Weapons)] };
        let s = serde_json::to_string(&rec).unwrap();
        assert_eq!(
            s,
            r#"{"id":"d","spans":[{"start":0,"end":4,"label":"safe"},{"start":5,"end":9,"label":"unsafe","category":"weapons"}]}"#
        );
        assert_eq!(serde_json::from_str::<AnnotationRecord>(&s).unwrap(), rec);
    }

    #[test]
    fn validation_catches_bad_spans() {
        let text = "héllo world";
        assert!(Span::safe(0, 3).validate(text).is_ok());
        assert!(Span::safe(0, 2).validate(text).unwrap_err().contains("UTF-8"));
        assert!(Span::safe(0, 99).validate(text).unwrap_err().contains("outside"));
        let mut s = Span::unsafe_(0, 3, Category::Hate);
        s.category = None;
        assert!(s.validate(text).unwrap_err().contains("no category"));
    }
}
