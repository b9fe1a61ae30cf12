//! Labelled examples for training and evaluating safety classifiers: from a
//! labelled JSONL file, or from a corpus's sentences labelled by one of its
//! annotations; and the held-out split, stable across runs.

use rsr_classify::Example;
use rsr_core::annotation::{AnnotationRecord, Span};
use rsr_core::corpus::CorpusDir;
use rsr_core::doc::Document;
use rsr_core::jsonl::{read_all, JsonlReader};
use rsr_core::{Error, Result};
use serde_json::Value;
use std::collections::HashMap;
use std::path::Path;

/// Where a labelled JSONL record keeps its text, label, id and category, and which label
/// strings mean unsafe or safe (a record with another label string is skipped and counted).
#[derive(Debug, Clone)]
pub struct LabelledFields {
    pub text: String,
    pub label: String,
    pub id: String,
    pub category: Option<String>,
    pub positive: Vec<String>,
    pub negative: Vec<String>,
}

/// (id, example) pairs from labelled JSONL, and how many records had a label that is neither
/// positive nor negative. Labels may be booleans, numbers (unsafe at ≥ 0.5) or strings.
pub fn from_jsonl(path: &Path, f: &LabelledFields) -> Result<(Vec<(String, Example)>, usize)> {
    let mut r = JsonlReader::<Value>::open(path)?;
    let (mut out, mut skipped) = (Vec::new(), 0usize);
    while let Some(rec) = r.next() {
        let v = rec?;
        let line = r.line_number();
        let at = || format!("{}:{line}", path.display());
        let text = v.get(&f.text).and_then(Value::as_str).ok_or_else(|| {
            Error::input(at(), format!("no string field `{}`", f.text), "set --text-field to the text's field")
        })?;
        let label = match v.get(&f.label) {
            Some(Value::Bool(b)) => Some(*b),
            Some(Value::Number(n)) => n.as_f64().map(|x| x >= 0.5),
            Some(Value::String(s)) if f.positive.contains(s) => Some(true),
            Some(Value::String(s)) if f.negative.contains(s) => Some(false),
            Some(Value::String(_)) => None,
            _ => {
                return Err(Error::input(at(), format!("no label field `{}`", f.label), "set --label-field"));
            }
        };
        let Some(label) = label else {
            skipped += 1;
            continue;
        };
        let id = match v.get(&f.id) {
            Some(Value::String(s)) => s.clone(),
            Some(other) => other.to_string(),
            None => format!("line-{line}"),
        };
        let category = f.category.as_ref().and_then(|c| v.get(c)).and_then(Value::as_str).map(str::to_string);
        out.push((id, Example { text: text.to_string(), label, category }));
    }
    if out.is_empty() {
        return Err(Error::input(path, "no labelled records", "check --label-field, --positive and --negative"));
    }
    Ok((out, skipped))
}

/// Sentences of a corpus labelled by one of its annotations, and how many documents had no
/// annotation; the id is the document's, so a held-out split keeps a document's sentences together.
pub fn from_corpus(dir: &Path, annotation: &str) -> Result<(Vec<(String, Example)>, usize)> {
    let corpus = CorpusDir::new(dir);
    let spans: HashMap<String, Vec<Span>> =
        read_all::<AnnotationRecord>(corpus.annotation(annotation))?.into_iter().map(|a| (a.id, a.spans)).collect();
    let mut out = Vec::new();
    let mut unlabelled = 0;
    for d in read_all::<Document>(corpus.documents()?)? {
        let Some(s) = spans.get(&d.id) else {
            unlabelled += 1;
            continue;
        };
        out.extend(crate::annotator::sentence_examples(&d.text, s).into_iter().map(|e| (d.id.clone(), e)));
    }
    if out.is_empty() {
        return Err(Error::input(
            dir,
            format!("no sentences with labels from annotation `{annotation}`"),
            "pick an annotation the corpus has (--annotation)",
        ));
    }
    Ok((out, unlabelled))
}

/// Held out when a hash of the id falls under `fraction`: the same split on every run.
pub fn held_out(id: &str, fraction: f64, seed: u64) -> bool {
    let h = rsr_classify::hash64(id.as_bytes(), seed ^ 0x5eed);
    ((h >> 11) as f64 / (1u64 << 53) as f64) < fraction
}
