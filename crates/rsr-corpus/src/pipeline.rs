//! The transform loop, written once: documents from one source → checks →
//! verdicts → transform → a sink.
//!
//! Two drivers use it and differ only in their sink: [`crate::run::transform`]
//! (one corpus directory in, `documents.jsonl` out) and
//! [`crate::scale::transform_files`] (many files over ranks, one part per input
//! file with a completion marker). So a flag means the same on both: reserved
//! fields, `--max-doc-bytes`, where the verdicts come from and how their spans
//! are checked, record errors naming file and line, and the counts.

use crate::annotator::Annotator;
use crate::label::{spans_from_field, AnnotationStream, LabelSource};
use crate::segment::TokenCounter;
use crate::transform::{reserved_field_error, transform_doc, Counts, TransformConfig, TransformedDoc};
use rsr_core::annotation::Span;
use rsr_core::corpus::CorpusDir;
use rsr_core::doc::{DocReader, Document};
use rsr_core::jsonl::SoftErrors;
use rsr_core::{BadRecord, Error, Result};
use serde_json::{json, Value};
use std::path::Path;

/// The documents of one input, and where the record last read came from.
pub trait DocSource: Iterator<Item = Result<Document>> {
    /// 1-based line (JSONL) or row (Parquet) of the record last read.
    fn position(&self) -> u64;
    /// Documents whose text held a literal special token (neutralised on reading).
    fn neutralised(&self) -> u64 {
        0
    }
}

impl DocSource for DocReader {
    fn position(&self) -> u64 {
        self.line_number()
    }
    fn neutralised(&self) -> u64 {
        self.neutralised
    }
}

/// Any document iterator, positioned by how many records it has yielded (a Parquet row).
pub struct Counted<I> {
    inner: I,
    n: u64,
}

impl<I> Counted<I> {
    pub fn new(inner: I) -> Self {
        Self { inner, n: 0 }
    }
}

impl<I: Iterator<Item = Result<Document>>> Iterator for Counted<I> {
    type Item = Result<Document>;
    fn next(&mut self) -> Option<Self::Item> {
        let r = self.inner.next()?;
        self.n += 1;
        Some(r)
    }
}

impl<I: Iterator<Item = Result<Document>>> DocSource for Counted<I> {
    fn position(&self) -> u64 {
        self.n
    }
}

/// Where a run's verdicts come from, ready to read.
pub enum Labeler<'a> {
    /// No verdicts (the `raw` transform needs none).
    None,
    /// An annotation file beside a corpus directory (`annotations/NAME.jsonl`), read alongside.
    Annotations { stream: AnnotationStream, name: String },
    /// A field of each input record (see [`spans_from_field`]).
    Field(String),
    /// An annotator labelling the text as it streams by (a classifier, an endpoint judge).
    Annotator(&'a dyn Annotator),
}

impl<'a> Labeler<'a> {
    /// `source` made ready for a run over documents of `input`; `None` for the `raw` transform.
    /// An annotation that does not exist is an error listing the ones that do.
    pub fn for_corpus(input: &CorpusDir, source: LabelSource<'a>, raw: bool) -> Result<Self> {
        if raw {
            return Ok(Labeler::None);
        }
        match source {
            LabelSource::Field(f) => Ok(Labeler::Field(f.to_string())),
            LabelSource::Annotator(a) => Ok(Labeler::Annotator(a)),
            LabelSource::Annotations(name) => {
                let path = input.annotation(name);
                if !path.is_file() {
                    let have = input.annotation_names();
                    let have = if have.is_empty() { "none".into() } else { have.join(", ") };
                    return Err(Error::input(
                        &path,
                        format!("no annotation `{name}` (available: {have})"),
                        "write it with `rsr annotate`, pick another with --labels, or read labels from an input field with --label-field",
                    ));
                }
                Ok(Labeler::Annotations { stream: AnnotationStream::open(&path)?, name: name.to_string() })
            }
        }
    }

    /// `source` for one input file of a scaled-out run, where annotation files have no place.
    pub fn for_file(source: LabelSource<'a>, raw: bool) -> Result<Self> {
        match source {
            _ if raw => Ok(Labeler::None),
            LabelSource::Field(f) => Ok(Labeler::Field(f.to_string())),
            LabelSource::Annotator(a) => Ok(Labeler::Annotator(a)),
            LabelSource::Annotations(name) => Err(Error::Invalid(format!(
                "annotation `{name}` belongs to a corpus directory; runs over many files need labels that travel \
                 with the documents: --classifier FILE, --endpoint URL or --label-field FIELD"
            ))),
        }
    }

    /// What the manifest records.
    pub fn describe(&self) -> Value {
        match self {
            Labeler::None => json!("none"),
            Labeler::Annotations { name, .. } => json!({ "annotation": name }),
            Labeler::Field(f) => json!({ "field": f }),
            Labeler::Annotator(a) => a.describe(),
        }
    }

    /// The verdict spans of `doc`; `Ok(Ok(None))` when it has none (no annotation, no field),
    /// which the caller counts as unannotated. A malformed field or a span outside the text is a
    /// [`BadRecord`] (the document is skipped and counted); anything else — an annotator or an
    /// endpoint that fails — is an [`Error`] that stops the run: a labeler's failure never skips
    /// a document.
    pub fn spans(
        &mut self,
        doc: &Document,
        soft: &mut SoftErrors,
    ) -> Result<std::result::Result<Option<Vec<Span>>, BadRecord>> {
        let spans = match self {
            Labeler::None => return Ok(Ok(Some(vec![]))),
            Labeler::Annotations { stream, .. } => stream.find(&doc.id, soft)?,
            Labeler::Field(f) => match doc.meta.get(f.as_str()) {
                Some(v) => match spans_from_field(v, f, doc) {
                    Ok(s) => Some(s),
                    Err(message) => return Ok(Err(BadRecord(message))),
                },
                None => None,
            },
            Labeler::Annotator(a) => Some(a.annotate(&doc.text)?),
        };
        for s in spans.iter().flatten() {
            if let Err(e) = s.validate(&doc.text) {
                return Ok(Err(BadRecord(format!("annotation of document `{}`: {e}", doc.id))));
            }
        }
        Ok(Ok(spans))
    }

    /// Annotation ids that matched no document (reads what is left of an annotation file).
    pub fn leftover_ids(&mut self, soft: &mut SoftErrors) -> Result<Vec<String>> {
        match self {
            Labeler::Annotations { stream, .. } => stream.leftover(soft),
            _ => Ok(vec![]),
        }
    }
}

/// The settings of the loop, the same for both drivers.
pub struct Pass<'a> {
    pub transform: &'a TransformConfig,
    pub counter: &'a dyn TokenCounter,
    /// Documents longer than this (bytes) are skipped and counted, never cut.
    pub max_doc_bytes: usize,
}

/// What the loop saw: the transform's counts, the record errors, and what it skipped.
#[derive(Debug, Default)]
pub struct Seen {
    pub counts: Counts,
    /// Record errors (counted and skipped, or the first one stops the run when strict).
    pub soft: SoftErrors,
    pub bytes_in: u64,
    pub docs_over_cap: u64,
    /// Ids of the first few documents over the cap, for the report.
    pub over_cap_ids: Vec<String>,
    pub docs_neutralised: u64,
}

impl Seen {
    /// Nothing seen yet; with `strict`, the first record error stops the run.
    pub fn new(strict: bool) -> Self {
        Self { soft: SoftErrors::new(strict), ..Self::default() }
    }
}

/// Transform every document of `docs` (read from `path`) and hand each result to `sink`.
/// Record errors (a malformed record, a reserved field, a bad verdict) name `path` and the
/// record's line and go through `seen.soft`; `progress(documents, bytes)` after each document.
pub fn transform_stream(
    pass: &Pass,
    docs: &mut dyn DocSource,
    path: &Path,
    labeler: &mut Labeler<'_>,
    seen: &mut Seen,
    sink: &mut dyn FnMut(&TransformedDoc) -> Result<()>,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<()> {
    let record_error = |docs: &dyn DocSource, message: String| Error::Record {
        path: path.to_path_buf(),
        line: docs.position(),
        message,
    };
    while let Some(r) = docs.next() {
        let Some(doc) = seen.soft.check(r)? else { continue };
        if let Some(message) = reserved_field_error(&doc) {
            seen.soft.check::<()>(Err(record_error(docs, message)))?;
            continue;
        }
        if doc.text.len() > pass.max_doc_bytes {
            seen.docs_over_cap += 1;
            if seen.over_cap_ids.len() < 3 {
                seen.over_cap_ids.push(doc.id.clone());
            }
            continue;
        }
        let verdict = labeler.spans(&doc, &mut seen.soft).map_err(|e| Error::Labeler {
            path: path.to_path_buf(),
            doc: doc.id.clone(),
            source: Box::new(e),
        })?;
        let spans = match verdict {
            Ok(Some(s)) => s,
            Ok(None) => {
                seen.counts.docs_unannotated += 1;
                vec![]
            }
            Err(BadRecord(message)) => {
                seen.soft.check::<()>(Err(record_error(docs, message)))?;
                continue;
            }
        };
        seen.bytes_in += doc.text.len() as u64;
        if let Some(out) = transform_doc(pass.transform, doc, &spans, pass.counter, &mut seen.counts) {
            sink(&out)?;
        }
        progress(seen.counts.docs_in, seen.bytes_in);
    }
    seen.docs_neutralised += docs.neutralised();
    Ok(())
}
