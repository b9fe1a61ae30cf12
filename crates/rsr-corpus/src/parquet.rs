//! Documents from Parquet files (the layout of FineWeb, Dolma, RedPajama
//! exports): one row per document, the text and id in named columns, every
//! other column kept as metadata — converted exactly as a JSONL record is
//! (`rsr_core::doc::document_from_fields`). The schema is checked when the file is
//! opened: a missing text column, or one that does not hold strings, is an
//! error naming the file and the columns it has.

use parquet::basic::Type as Physical;
use parquet::file::reader::{FileReader, SerializedFileReader};
use parquet::record::Field;
use rsr_core::doc::{document_from_fields, DocFields, Document};
use rsr_core::{Error, Result};
use serde_json::{Map, Value};
use std::path::Path;

fn to_json(f: &Field) -> Value {
    match f {
        Field::Null => Value::Null,
        Field::Bool(b) => Value::Bool(*b),
        Field::Str(s) => Value::String(s.clone()),
        Field::Byte(x) => (*x).into(),
        Field::Short(x) => (*x).into(),
        Field::Int(x) => (*x).into(),
        Field::Long(x) => (*x).into(),
        Field::UByte(x) => (*x).into(),
        Field::UShort(x) => (*x).into(),
        Field::UInt(x) => (*x).into(),
        Field::ULong(x) => (*x).into(),
        Field::Float(x) => serde_json::Number::from_f64(*x as f64).map(Value::Number).unwrap_or(Value::Null),
        Field::Double(x) => serde_json::Number::from_f64(*x).map(Value::Number).unwrap_or(Value::Null),
        Field::Bytes(b) => match std::str::from_utf8(b.data()) {
            Ok(s) => Value::String(s.to_string()),
            Err(_) => Value::Null,
        },
        other => Value::String(other.to_string()),
    }
}

/// Rows of `path` as documents. Record-level problems (a null or non-UTF-8
/// text) are record errors with the row number; schema problems fail at once.
pub fn documents(path: &Path, fields: &DocFields) -> Result<Box<dyn Iterator<Item = Result<Document>>>> {
    let bad =
        |e: String| Error::input(path, e, "pass a readable Parquet file with a string text column (--text-field)");
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    // The parquet crate can panic on damaged metadata (found by tests/fuzz_readers.rs): a named error instead.
    let reader = std::panic::catch_unwind(|| SerializedFileReader::new(file))
        .map_err(|_| bad("damaged Parquet metadata (the reader panicked)".into()))?
        .map_err(|e| bad(format!("not a readable Parquet file: {e}")))?;
    let schema = reader.metadata().file_metadata().schema_descr_ptr();
    let columns: Vec<String> = schema.root_schema().get_fields().iter().map(|f| f.name().to_string()).collect();
    let text_col = schema.root_schema().get_fields().iter().find(|f| f.name() == fields.text);
    match text_col {
        None => {
            return Err(bad(format!("no column `{}` (columns: {})", fields.text, columns.join(", "))));
        }
        Some(t) if !t.is_primitive() || t.get_physical_type() != Physical::BYTE_ARRAY => {
            return Err(bad(format!("column `{}` does not hold strings", fields.text)));
        }
        _ => {}
    }
    let path = path.to_path_buf();
    let fields = fields.clone();
    let mut rows = reader.into_iter();
    let mut failed = false;
    let guarded = std::iter::from_fn(move || {
        if failed {
            return None;
        }
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| rows.next())) {
            Ok(r) => r,
            Err(_) => {
                failed = true;
                Some(Err(parquet::errors::ParquetError::General("damaged data (the reader panicked)".into())))
            }
        }
    });
    Ok(Box::new(guarded.enumerate().map(move |(i, row)| {
        let line = i as u64 + 1;
        let rec = |message: String| Error::Record { path: path.clone(), line, message };
        let row = row.map_err(|e| rec(format!("unreadable row: {e}")))?;
        let obj: Map<String, Value> = row.get_column_iter().map(|(name, f)| (name.clone(), to_json(f))).collect();
        document_from_fields(obj, &fields, line).map(|(doc, _)| doc).map_err(rec)
    })))
}
