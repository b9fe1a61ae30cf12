//! Segment labels from span annotations, and where the spans come from.
//!
//! A segment is unsafe when any unsafe span overlaps it; its category is the
//! category of the unsafe span that overlaps it most, and its score is the
//! highest score among the spans overlapping it (text no span covers scores 0).

use rsr_core::annotation::{AnnotationRecord, Span};
use rsr_core::doc::Document;
use rsr_core::jsonl::{JsonlReader, SoftErrors};
use rsr_core::taxonomy::Category;
use rsr_core::{Error, Result};
use serde_json::Value;
use std::collections::HashMap;
use std::ops::Range;
use std::path::Path;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SegmentLabel {
    pub category: Option<Category>,
    pub score: f32,
}

impl SegmentLabel {
    pub fn is_unsafe(&self) -> bool {
        self.category.is_some()
    }
}

pub fn label_segment(seg: &Range<usize>, spans: &[Span]) -> SegmentLabel {
    let mut score = 0.0f32;
    let mut best: Option<(usize, Category)> = None;
    for s in spans {
        let overlap = s.end.min(seg.end).saturating_sub(s.start.max(seg.start));
        if overlap == 0 {
            continue;
        }
        score = score.max(s.score());
        if let (true, Some(c)) = (s.is_unsafe(), s.category) {
            if best.is_none_or(|(o, _)| overlap > o) {
                best = Some((overlap, c));
            }
        }
    }
    SegmentLabel { category: best.map(|(_, c)| c), score }
}

/// Where the verdicts of a run come from (resolved into a [`crate::pipeline::Labeler`]).
#[derive(Clone, Copy)]
pub enum LabelSource<'a> {
    /// An annotation file beside the documents (`annotations/NAME.jsonl`).
    Annotations(&'a str),
    /// A field of each input record (see [`spans_from_field`]).
    Field(&'a str),
    /// An annotator that labels the text as the documents stream by.
    Annotator(&'a dyn crate::annotator::Annotator),
}

/// Reads an annotation file alongside the documents. When annotations come in
/// the documents' order (as `rsr gym` and `rsr annotate` write them) memory
/// stays bounded; records met out of order wait in a map until their
/// document arrives.
pub struct AnnotationStream {
    reader: JsonlReader<AnnotationRecord>,
    stash: HashMap<String, Vec<Span>>,
    done: bool,
}

impl AnnotationStream {
    pub fn open(path: &Path) -> Result<Self> {
        Ok(Self { reader: JsonlReader::open(path)?, stash: HashMap::new(), done: false })
    }

    fn next_record(&mut self, soft: &mut SoftErrors) -> Result<Option<AnnotationRecord>> {
        while !self.done {
            match self.reader.next() {
                None => self.done = true,
                Some(r) => {
                    if let Some(rec) = soft.check(r)? {
                        return Ok(Some(rec));
                    }
                }
            }
        }
        Ok(None)
    }

    pub fn find(&mut self, id: &str, soft: &mut SoftErrors) -> Result<Option<Vec<Span>>> {
        if let Some(spans) = self.stash.remove(id) {
            return Ok(Some(spans));
        }
        while let Some(rec) = self.next_record(soft)? {
            if rec.id == id {
                return Ok(Some(rec.spans));
            }
            self.stash(rec, soft)?;
        }
        Ok(None)
    }

    fn stash(&mut self, rec: AnnotationRecord, soft: &mut SoftErrors) -> Result<()> {
        match self.stash.entry(rec.id) {
            std::collections::hash_map::Entry::Vacant(v) => {
                v.insert(rec.spans);
                Ok(())
            }
            std::collections::hash_map::Entry::Occupied(o) => {
                let e = Error::Record {
                    path: self.reader.path().to_path_buf(),
                    line: self.reader.line_number(),
                    message: format!("duplicate annotation for document `{}`", o.key()),
                };
                soft.check::<()>(Err(e)).map(|_| ())
            }
        }
    }

    pub fn leftover(&mut self, soft: &mut SoftErrors) -> Result<Vec<String>> {
        while let Some(rec) = self.next_record(soft)? {
            self.stash(rec, soft)?;
        }
        let mut ids: Vec<String> = self.stash.keys().cloned().collect();
        ids.sort();
        Ok(ids)
    }
}

/// Labels from an input field. Accepted values:
/// - `"safe"`, `"unsafe:CATEGORY"` or a bare category slug: the whole document;
/// - a number in `[0, 1]`: P(unsafe) of the whole document, unsafe from 0.5,
///   with the category taken from the record's `category` field;
/// - an array of spans in the annotation format.
pub fn spans_from_field(v: &Value, field: &str, doc: &Document) -> std::result::Result<Vec<Span>, String> {
    let whole = |category: Option<Category>, score: Option<f32>| {
        let mut s = match category {
            Some(c) => Span::unsafe_(0, doc.text.len(), c),
            None => Span::safe(0, doc.text.len()),
        };
        s.score = score;
        if doc.text.is_empty() {
            vec![]
        } else {
            vec![s]
        }
    };
    match v {
        Value::String(s) if s == "safe" => Ok(whole(None, None)),
        Value::String(s) => {
            let cat = s.strip_prefix("unsafe:").unwrap_or(s);
            let c: Category = cat.parse().map_err(|e| format!("field `{field}` of `{}`: {e}", doc.id))?;
            Ok(whole(Some(c), None))
        }
        Value::Number(n) => {
            let score = n.as_f64().unwrap_or(f64::NAN) as f32;
            if !(0.0..=1.0).contains(&score) {
                return Err(format!("field `{field}` of `{}`: score {n} is outside [0, 1]", doc.id));
            }
            if score < 0.5 {
                return Ok(whole(None, Some(score)));
            }
            let c = match doc.meta.get("category") {
                Some(Value::String(c)) => {
                    c.parse::<Category>().map_err(|e| format!("field `category` of `{}`: {e}", doc.id))?
                }
                _ => {
                    return Err(format!(
                        "document `{}` scores {score} in `{field}` but has no `category` field to say which hazard",
                        doc.id
                    ))
                }
            };
            Ok(whole(Some(c), Some(score)))
        }
        Value::Array(_) => serde_json::from_value(v.clone())
            .map_err(|e| format!("field `{field}` of `{}`: not a span list: {e}", doc.id)),
        other => Err(format!("field `{field}` of `{}`: unsupported label value {other}", doc.id)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segment_takes_the_most_overlapping_unsafe_category_and_max_score() {
        let spans =
            vec![Span::safe(0, 10), Span::unsafe_(11, 14, Category::Hate), Span::unsafe_(15, 40, Category::Weapons)];
        let l = label_segment(&(0..30), &spans);
        assert_eq!(l.category, Some(Category::Weapons));
        assert_eq!(l.score, 1.0);
        let l = label_segment(&(0..10), &spans);
        assert!(!l.is_unsafe());
        assert_eq!(l.score, 0.0);
        // Touching is not overlapping.
        assert!(!label_segment(&(40..50), &spans).is_unsafe());
    }

    #[test]
    fn field_values_become_spans() {
        let mut doc = Document { id: "d".into(), text: "hello".into(), meta: Default::default() };
        assert!(!spans_from_field(&"safe".into(), "f", &doc).unwrap()[0].is_unsafe());
        assert_eq!(spans_from_field(&"unsafe:hate".into(), "f", &doc).unwrap()[0].category, Some(Category::Hate));
        assert_eq!(spans_from_field(&"weapons".into(), "f", &doc).unwrap()[0].category, Some(Category::Weapons));
        assert!(spans_from_field(&serde_json::json!(0.9), "f", &doc).unwrap_err().contains("no `category`"));
        doc.meta.insert("category".into(), "self-harm".into());
        let s = spans_from_field(&serde_json::json!(0.9), "f", &doc).unwrap();
        assert_eq!((s[0].category, s[0].score), (Some(Category::SelfHarm), Some(0.9)));
        assert!(spans_from_field(&serde_json::json!(3), "f", &doc).is_err());
        let arr = serde_json::json!([{"start":0,"end":5,"label":"unsafe","category":"privacy"}]);
        assert_eq!(spans_from_field(&arr, "f", &doc).unwrap()[0].category, Some(Category::Privacy));
    }
}
