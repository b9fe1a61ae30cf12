//! Documents: an id, UTF-8 text, and whatever other fields the input carried.
//!
//! Input records are read as JSON objects with configurable id and text
//! fields ([`DocFields`]). A record without its id or text field, or with a
//! non-string text, is a record error naming file and line. Literal special
//! tokens in the text are neutralised on the way in (see [`crate::special`]).

use crate::error::{Error, Result};
use crate::jsonl::JsonlReader;
use crate::special;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::path::Path;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Document {
    pub id: String,
    pub text: String,
    /// Every other field of the input record, passed through untouched.
    #[serde(flatten)]
    pub meta: Map<String, Value>,
}

/// Which input fields hold the id and the text.
#[derive(Debug, Clone)]
pub struct DocFields {
    pub id: String,
    pub text: String,
    /// When set, a record without an id gets `PREFIX:LINE` (stable for a given
    /// file) instead of being an error.
    pub generate_ids: Option<String>,
}

impl Default for DocFields {
    fn default() -> Self {
        Self { id: "id".into(), text: "text".into(), generate_ids: None }
    }
}

/// Reads documents from a JSONL file, one per line.
pub struct DocReader {
    inner: JsonlReader<Value>,
    fields: DocFields,
    /// Documents whose text held a literal special token (now neutralised).
    pub neutralised: u64,
}

impl DocReader {
    pub fn open(path: impl AsRef<Path>, fields: DocFields) -> Result<Self> {
        Ok(Self { inner: JsonlReader::open(path)?, fields, neutralised: 0 })
    }

    /// The 1-based line of the record last read.
    pub fn line_number(&self) -> u64 {
        self.inner.line_number()
    }

    fn convert(&mut self, value: Value) -> std::result::Result<Document, String> {
        let Value::Object(obj) = value else {
            return Err("record is not a JSON object".into());
        };
        let (doc, neutralised) = document_from_fields(obj, &self.fields, self.inner.line_number())?;
        self.neutralised += neutralised as u64;
        Ok(doc)
    }
}

/// A document from one input record's fields (JSONL line, Parquet row, …):
/// the id and text taken out by name (`line` numbers generated ids), the rest
/// kept as metadata, literal special tokens neutralised (the flag says so).
/// The error names the field and says what to do.
pub fn document_from_fields(
    mut obj: Map<String, Value>,
    fields: &DocFields,
    line: u64,
) -> std::result::Result<(Document, bool), String> {
    let id = match obj.remove(&fields.id) {
        Some(Value::String(s)) if !s.is_empty() => s,
        Some(Value::Number(n)) => n.to_string(),
        Some(other) => return Err(format!("field `{}` must be a non-empty string, got {other}", fields.id)),
        None => match &fields.generate_ids {
            Some(prefix) => format!("{prefix}:{}", line),
            None => return Err(format!("missing id field `{}` (set --id-field if it has another name)", fields.id)),
        },
    };
    let text = match obj.remove(&fields.text) {
        Some(Value::String(s)) => s,
        Some(other) => {
            let kind = match other {
                Value::Null => "null",
                Value::Bool(_) => "a boolean",
                Value::Number(_) => "a number",
                Value::Array(_) => "an array",
                _ => "an object",
            };
            return Err(format!("text field `{}` of document `{id}` is {kind}, not a string", fields.text));
        }
        None => {
            return Err(format!(
                "document `{id}` has no text field `{}` (set --text-field if it has another name)",
                fields.text
            ))
        }
    };
    Ok(match special::neutralise(&text) {
        Some(clean) => (Document { id, text: clean, meta: obj }, true),
        None => (Document { id, text, meta: obj }, false),
    })
}

impl Iterator for DocReader {
    type Item = Result<Document>;
    fn next(&mut self) -> Option<Self::Item> {
        let value = match self.inner.next()? {
            Ok(v) => v,
            Err(e) => return Some(Err(e)),
        };
        Some(self.convert(value).map_err(|message| Error::Record {
            path: self.inner.path().to_path_buf(),
            line: self.inner.line_number(),
            message,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jsonl::SoftErrors;

    #[test]
    fn reads_custom_fields_and_names_bad_records() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("d.jsonl");
        std::fs::write(
            &p,
            concat!(
                "{\"doc_id\":\"a\",\"content\":\"hello <|reflect|>safe<|/reflect|>\",\"url\":\"u\"}\n",
                "{\"content\":\"no id\"}\n",
                "{\"doc_id\":\"c\",\"content\":5}\n",
                "{\"doc_id\":7,\"content\":\"ok\"}\n",
            ),
        )
        .unwrap();
        let fields = DocFields { id: "doc_id".into(), text: "content".into(), generate_ids: None };
        let mut reader = DocReader::open(&p, fields).unwrap();
        let mut soft = SoftErrors::new(false);
        let mut docs = Vec::new();
        for r in reader.by_ref() {
            if let Some(d) = soft.check(r).unwrap() {
                docs.push(d);
            }
        }
        assert_eq!(docs.len(), 2);
        assert_eq!(docs[0].text, "hello <!reflect!>safe<!/reflect!>");
        assert_eq!(docs[0].meta["url"], "u");
        assert_eq!(docs[1].id, "7");
        assert_eq!(reader.neutralised, 1);
        assert_eq!(soft.count, 2);
        assert!(soft.first[0].contains("d.jsonl:2: missing id field `doc_id`"), "{}", soft.first[0]);
        assert!(
            soft.first[1].contains("d.jsonl:3: text field `content` of document `c` is a number"),
            "{}",
            soft.first[1]
        );
    }
}
