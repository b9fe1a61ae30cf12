//! Drivers: read a corpus directory, run a pass, write a corpus directory (or
//! an annotation file) atomically with its manifest.

use crate::label::LabelSource;
use crate::noisy::NoiseConfig;
use crate::pipeline::{transform_stream, Labeler, Pass, Seen};
use crate::segment::TokenCounter;
use crate::transform::{Mode, TransformConfig, TransformCounts, TransformTiming};
use rsr_core::annotation::AnnotationRecord;
use rsr_core::corpus::{CorpusDir, DOCUMENT_NAMES};
use rsr_core::doc::{DocFields, DocReader};
use rsr_core::jsonl::{JsonlReader, JsonlWriter, SoftErrors};
use rsr_core::manifest::{Manifest, Outcome};
use rsr_core::taxonomy::Category;
use rsr_core::{BadRecord, Error, Result};
use serde_json::json;
use std::collections::BTreeSet;
use std::path::Path;
use std::time::Instant;

#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Stop at the first malformed record instead of counting and skipping it.
    pub strict: bool,
    /// Write `documents.jsonl.zst` instead of `documents.jsonl`.
    pub compress: bool,
    pub fields: DocFields,
    /// Documents longer than this (bytes) are skipped and counted, never cut.
    pub max_doc_bytes: usize,
}

impl Default for RunOptions {
    fn default() -> Self {
        Self { strict: false, compress: false, fields: DocFields::default(), max_doc_bytes: DEFAULT_MAX_DOC_BYTES }
    }
}

/// The default `--max-doc-bytes`: 16 MiB.
pub const DEFAULT_MAX_DOC_BYTES: usize = 16 << 20;

/// Called after each document with (documents read, bytes of text read).
pub type Progress<'a> = &'a mut dyn FnMut(u64, u64);

/// What [`transform`] did: its counts, its timing, and the manifest written beside its output.
pub type Transformed = Outcome<TransformCounts, TransformTiming>;

/// `rsr transform`: read `input`, write the transformed corpus to `out_dir`
/// (`documents.jsonl`, or `.jsonl.zst` with `opts.compress`, and `manifest.json`), through
/// the one transform loop ([`crate::pipeline`]). Returns the manifest and the ids of the first
/// documents skipped for their size.
pub fn transform(
    input: &CorpusDir,
    out_dir: &Path,
    cfg: &TransformConfig,
    source: LabelSource<'_>,
    opts: &RunOptions,
    counter: &dyn TokenCounter,
    progress: Progress,
) -> Result<Transformed> {
    cfg.validate().map_err(Error::Invalid)?;
    rsr_core::atomic::check_out_apart(&input.root, out_dir)?;
    let t0 = Instant::now();
    let docs_path = input.documents()?;
    let mut labeler = Labeler::for_corpus(input, source, cfg.mode == Mode::Raw)?;
    let name = if opts.compress { DOCUMENT_NAMES[1] } else { DOCUMENT_NAMES[0] };
    let mut writer = JsonlWriter::create(out_dir.join(name))?;
    let mut reader = DocReader::open(&docs_path, opts.fields.clone())?;
    let pass = Pass { transform: cfg, counter, max_doc_bytes: opts.max_doc_bytes };
    let mut seen = Seen::new(opts.strict);
    transform_stream(&pass, &mut reader, &docs_path, &mut labeler, &mut seen, &mut |d| writer.write(d), progress)?;
    let (counts, soft) = (&seen.counts, &mut seen.soft);
    if counts.docs_in == 0 {
        return Err(Error::input(
            &docs_path,
            format!(
                "no documents to transform ({} record(s) skipped as malformed, {} over --max-doc-bytes)",
                soft.count, seen.docs_over_cap
            ),
            "check the input file (and --text-field / --id-field)",
        ));
    }
    // The annotation file read beside the documents, if any: an input of this run too.
    let annotation_file = match &labeler {
        Labeler::Annotations { name, .. } => Some(input.annotation(name)),
        _ => None,
    };
    let leftover = labeler.leftover_ids(soft)?;
    if !leftover.is_empty() {
        let shown: Vec<&str> = leftover.iter().take(3).map(String::as_str).collect();
        return Err(Error::input(
            annotation_file.as_deref().unwrap_or(&docs_path),
            format!("{} annotation(s) match no document in {}, e.g. {}", leftover.len(), docs_path.display(), shown.join(", ")),
            "the annotations belong to another corpus: re-run `rsr annotate` on this input, or pass the matching --input",
        ));
    }
    writer.finish()?;
    remove_stale_documents(out_dir, name)?;
    let secs = t0.elapsed().as_secs_f64();
    let counts = TransformCounts {
        records_skipped: soft.count,
        docs_neutralised: seen.docs_neutralised,
        docs_over_cap: seen.docs_over_cap,
        bytes_in: seen.bytes_in,
        ..TransformCounts::new(counts.clone())
    };
    let timing = TransformTiming {
        seconds: secs,
        mb_per_s: seen.bytes_in as f64 / 1e6 / secs.max(1e-9),
        docs_per_s: counts.transform.docs_in as f64 / secs.max(1e-9),
    };
    let outcome = Outcome::new(
        "transform",
        std::iter::once(&docs_path).chain(annotation_file.as_ref()).map(|p| p.display().to_string()).collect(),
        json!({ "transform": cfg, "labels": labeler.describe(), "token_counter": counter.name(), "strict": opts.strict, "max_doc_bytes": opts.max_doc_bytes }),
        counts,
        timing,
    );
    outcome.manifest.write(out_dir)?;
    Ok(outcome)
}

/// A rerun may switch between `.jsonl` and `.jsonl.zst`: leave only one.
fn remove_stale_documents(dir: &Path, keep: &str) -> Result<()> {
    for n in DOCUMENT_NAMES.iter().filter(|n| **n != keep) {
        let p = dir.join(n);
        if p.exists() {
            std::fs::remove_file(&p).map_err(|e| Error::io(&p, e))?;
        }
    }
    Ok(())
}

/// `rsr annotate --noise`: derive annotation `out_name` from `from_name`
/// through the noisy annotator. Bare rates apply to the categories present in
/// the reference.
pub fn annotate_noisy(
    input: &CorpusDir,
    from_name: &str,
    out_name: &str,
    spec: &str,
    seed: u64,
    strict: bool,
) -> Result<Manifest> {
    let from = input.annotation(from_name);
    let mut soft = SoftErrors::new(strict);
    let records: Vec<AnnotationRecord> = {
        let mut v = Vec::new();
        for r in JsonlReader::<AnnotationRecord>::open(&from)? {
            if let Some(rec) = soft.check(r)? {
                v.push(rec);
            }
        }
        v
    };
    let cats: BTreeSet<Category> = records.iter().flat_map(|r| r.spans.iter().filter_map(|s| s.category)).collect();
    let cats: Vec<Category> = cats.into_iter().collect();
    let noise = NoiseConfig::parse(spec, &cats, seed)
        .map_err(|e| Error::input(&from, e, "see `rsr annotate --help` for the --noise syntax"))?;
    let out = input.annotation(out_name);
    let mut w = JsonlWriter::create(&out)?;
    let (mut flipped_to_safe, mut flipped_to_unsafe, mut spans) = (0u64, 0u64, 0u64);
    for r in &records {
        let noisy = noise.apply(&r.id, &r.spans);
        for (a, b) in r.spans.iter().zip(&noisy) {
            spans += 1;
            match (a.is_unsafe(), b.is_unsafe()) {
                (true, false) => flipped_to_safe += 1,
                (false, true) => flipped_to_unsafe += 1,
                _ => {}
            }
        }
        w.write(&AnnotationRecord { id: r.id.clone(), spans: noisy })?;
    }
    w.finish()?;
    let manifest = Manifest::new(
        "annotate",
        vec![from.display().to_string()],
        json!({ "annotator": "noisy", "noise": noise, "spec": spec }),
        json!({ "documents": records.len(), "spans": spans, "missed": flipped_to_safe, "false_alarms": flipped_to_unsafe, "records_skipped": soft.count }),
    );
    manifest.write_to(&input.annotations_dir().join(format!("{out_name}.manifest.json")))?;
    Ok(manifest)
}

/// `rsr annotate --classifier`: label every document with `annotator`,
/// writing `annotations/NAME.jsonl` beside the documents.
pub fn annotate_with(
    input: &CorpusDir,
    annotator: &dyn crate::annotator::Annotator,
    out_name: &str,
    opts: &RunOptions,
    progress: Progress,
) -> Result<Manifest> {
    let t0 = Instant::now();
    let docs_path = input.documents()?;
    let mut soft = SoftErrors::new(opts.strict);
    let out = input.annotation(out_name);
    let mut w = JsonlWriter::create(&out)?;
    let mut reader = DocReader::open(&docs_path, opts.fields.clone())?;
    let (mut docs, mut bytes, mut sentences, mut unsafe_sentences) = (0u64, 0u64, 0u64, 0u64);
    for r in reader.by_ref() {
        let Some(doc) = soft.check(r)? else { continue };
        let spans = annotator.annotate(&doc.text).map_err(|e| Error::Labeler {
            path: docs_path.clone(),
            doc: doc.id.clone(),
            source: Box::new(e),
        })?;
        docs += 1;
        bytes += doc.text.len() as u64;
        sentences += spans.len() as u64;
        unsafe_sentences += spans.iter().filter(|s| s.is_unsafe()).count() as u64;
        w.write(&AnnotationRecord { id: doc.id, spans })?;
        progress(docs, bytes);
    }
    w.finish()?;
    let secs = t0.elapsed().as_secs_f64();
    let mut manifest = Manifest::new(
        "annotate",
        vec![docs_path.display().to_string()],
        annotator.describe(),
        json!({ "documents": docs, "sentences": sentences, "unsafe_sentences": unsafe_sentences, "records_skipped": soft.count }),
    );
    manifest.timing = json!({ "seconds": secs, "docs_per_s": docs as f64 / secs.max(1e-9), "mb_per_s": bytes as f64 / 1e6 / secs.max(1e-9) });
    manifest.write_to(&input.annotations_dir().join(format!("{out_name}.manifest.json")))?;
    Ok(manifest)
}

/// `rsr annotate --label-field`: turn labels held in an input field into an
/// annotation file beside the documents.
pub fn annotate_field(input: &CorpusDir, field: &str, out_name: &str, opts: &RunOptions) -> Result<Manifest> {
    let docs_path = input.documents()?;
    let mut soft = SoftErrors::new(opts.strict);
    let mut labels = Labeler::Field(field.to_string());
    let mut label_soft = SoftErrors::new(true);
    let out = input.annotation(out_name);
    let mut w = JsonlWriter::create(&out)?;
    let mut reader = DocReader::open(&docs_path, opts.fields.clone())?;
    let (mut annotated, mut missing) = (0u64, 0u64);
    while let Some(r) = reader.next() {
        let Some(doc) = soft.check(r)? else { continue };
        let line = reader.line_number();
        match labels.spans(&doc, &mut label_soft)? {
            Ok(Some(spans)) => {
                annotated += 1;
                w.write(&AnnotationRecord { id: doc.id, spans })?;
            }
            Ok(None) => missing += 1,
            Err(BadRecord(message)) => {
                soft.check::<()>(Err(Error::Record { path: docs_path.clone(), line, message }))?;
            }
        }
    }
    w.finish()?;
    let manifest = Manifest::new(
        "annotate",
        vec![docs_path.display().to_string()],
        json!({ "annotator": "field", "field": field }),
        json!({ "annotated": annotated, "without_field": missing, "records_skipped": soft.count }),
    );
    manifest.write_to(&input.annotations_dir().join(format!("{out_name}.manifest.json")))?;
    Ok(manifest)
}
