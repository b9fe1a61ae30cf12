//! Invariants of the transforms, checked on a generated SafetyWorld and on
//! small hand-made corpora.

use rsr_core::annotation::{AnnotationRecord, Span};
use rsr_core::doc::Document;
use rsr_core::jsonl::{read_all, JsonlWriter};
use rsr_core::special::{REFLECT_CLOSE, REFLECT_OPEN, SAFE_TAG, UNSAFE_TAG};
use rsr_corpus::label::{label_segment, LabelSource};
use rsr_corpus::run::{self, RunOptions};
use rsr_corpus::segment::{segments, Whitespace};
use rsr_corpus::transform::*;
use rsr_world::{generate_in_memory, WorldConfig};
use std::path::Path;
use std::sync::OnceLock;

fn corpus() -> &'static Vec<(Document, Vec<Span>)> {
    static C: OnceLock<Vec<(Document, Vec<Span>)>> = OnceLock::new();
    C.get_or_init(|| generate_in_memory(3, WorldConfig { docs: 600, heldout_docs: 10, ..WorldConfig::default() }).train)
}

fn run_all(cfg: &TransformConfig) -> (Vec<(usize, TransformedDoc)>, Counts) {
    let mut counts = Counts::default();
    let out = corpus()
        .iter()
        .enumerate()
        .filter_map(|(i, (d, s))| transform_doc(cfg, d.clone(), s, &Whitespace, &mut counts).map(|t| (i, t)))
        .collect();
    (out, counts)
}

fn inside(ranges: &[[usize; 2]], i: usize) -> bool {
    ranges.iter().any(|r| r[0] <= i && i < r[1])
}

/// Map each output byte that is not inserted to its input byte.
fn origin_map(t: &TransformedDoc) -> Vec<Option<usize>> {
    let mut next = 0;
    (0..t.text.len())
        .map(|i| {
            if inside(&t.inserted, i) {
                None
            } else {
                next += 1;
                Some(next - 1)
            }
        })
        .collect()
}

fn strip_inserted(t: &TransformedDoc) -> String {
    let bytes: Vec<u8> = t.text.bytes().enumerate().filter(|(i, _)| !inside(&t.inserted, *i)).map(|(_, b)| b).collect();
    String::from_utf8(bytes).unwrap()
}

fn rsr(every: usize) -> TransformConfig {
    TransformConfig { mode: Mode::Rsr, every, seed: 11, ..TransformConfig::default() }
}

#[test]
fn with_mask_unsafe_no_unsafe_byte_is_trainable() {
    for every in [4, 16, 64] {
        let (out, counts) = run_all(&rsr(every));
        assert!(counts.reflections_unsafe > 0 && counts.masked_bytes > 0);
        for (i, t) in &out {
            let spans = &corpus()[*i].1;
            for (o, orig) in origin_map(t).into_iter().enumerate() {
                let Some(orig) = orig else { continue };
                let in_unsafe = spans.iter().any(|s| s.is_unsafe() && s.start <= orig && orig < s.end);
                if in_unsafe {
                    assert!(inside(&t.masked, o), "{}: unsafe byte {orig} is trainable", t.id);
                }
            }
        }
    }
}

/// `--mask answer`: every unsafe byte of a user's turn is trainable, every other unsafe byte is
/// masked, and the rest of the document is what `--mask unsafe` writes.
#[test]
fn mask_answer_masks_the_unsafe_answer_and_keeps_the_request() {
    for every in [8, 24] {
        let cfg = TransformConfig { mask: MaskPolicy::Answer, ..rsr(every) };
        let (out, counts) = run_all(&cfg);
        let (default, default_counts) = run_all(&rsr(every));
        assert!(counts.masked_bytes > 0 && counts.masked_bytes < default_counts.masked_bytes);
        let (mut kept_requests, mut masked_answers) = (0, 0);
        for ((i, t), (_, d)) in out.iter().zip(&default) {
            // Same text, same reflections: only the mask differs.
            assert_eq!(t.text, d.text, "{}", t.id);
            assert_eq!(t.inserted, d.inserted, "{}", t.id);
            let (doc, spans) = &corpus()[*i];
            for (o, orig) in origin_map(t).into_iter().enumerate() {
                let Some(orig) = orig else { continue };
                // The line a byte is on (a line break belongs to the line it ends).
                let line = &doc.text[doc.text[..orig].rfind('\n').map(|k| k + 1).unwrap_or(0)..];
                let in_unsafe = spans.iter().any(|s| s.is_unsafe() && s.start <= orig && orig < s.end);
                if !in_unsafe {
                    // Never masks more than `unsafe` does.
                    assert!(!inside(&t.masked, o) || inside(&d.masked, o), "{}: safe byte {orig} masked", t.id);
                } else if line.starts_with("User:") {
                    assert!(!inside(&t.masked, o), "{}: request byte {orig} is masked:\n{}", t.id, doc.text);
                    kept_requests += 1;
                } else if !line.starts_with("Assistant:") || orig >= doc.text.len() - line.len() + "Assistant:".len() {
                    assert!(inside(&t.masked, o), "{}: unsafe byte {orig} is trainable:\n{}", t.id, doc.text);
                    masked_answers += 1;
                }
            }
        }
        assert!(kept_requests > 0 && masked_answers > 0);
    }
}

#[test]
fn reflections_and_redirects_are_always_trainable_and_well_formed() {
    let cfg = TransformConfig { after_unsafe: AfterUnsafe::Redirect, ..rsr(16) };
    let (out, counts) = run_all(&cfg);
    assert_eq!(counts.redirects, counts.reflections_unsafe);
    for (_, t) in &out {
        for r in &t.inserted {
            for i in r[0]..r[1] {
                assert!(!inside(&t.masked, i), "{}: inserted byte {i} is masked", t.id);
            }
            let s = &t.text[r[0]..r[1]];
            assert!(s.starts_with(REFLECT_OPEN), "{s}");
            let (verdict, len) = rsr_core::reflection::parse(s).unwrap();
            if matches!(verdict, rsr_core::reflection::Verdict::Unsafe { .. }) {
                assert!(s.len() > len, "redirect missing: {s}");
            }
        }
    }
}

#[test]
fn rsr_output_minus_insertions_is_the_input() {
    let (out, counts) = run_all(&rsr(8));
    assert_eq!(
        counts.reflections_safe + counts.reflections_unsafe,
        counts.segments_safe + counts.segments_unsafe_total()
    );
    for (i, t) in &out {
        assert_eq!(strip_inserted(t), corpus()[*i].0.text, "{}", t.id);
    }
}

#[test]
fn safe_rate_thins_safe_reflections_only() {
    let (_, c) = run_all(&TransformConfig { safe_rate: 0.25, ..rsr(8) });
    let frac = c.reflections_safe as f64 / c.segments_safe as f64;
    assert!((frac - 0.25).abs() < 0.04, "{frac}");
    assert_eq!(c.reflections_unsafe, c.segments_unsafe_total());
}

#[test]
fn truncate_ends_the_document_at_the_first_unsafe_reflection() {
    let (out, c) = run_all(&TransformConfig { after_unsafe: AfterUnsafe::Truncate, ..rsr(8) });
    assert!(c.docs_truncated > 0);
    for (_, t) in &out {
        if let Some(i) = t.text.find("<|reflect|><|unsafe|>") {
            assert!(t.text[i..].ends_with(REFLECT_CLOSE), "{}", t.id);
            assert_eq!(rsr_core::reflection::count_unsafe(&t.text), 1);
        }
    }
}

#[test]
fn raw_round_trips_byte_for_byte() {
    let (out, c) = run_all(&TransformConfig { mode: Mode::Raw, ..TransformConfig::default() });
    assert_eq!(out.len(), corpus().len());
    for (i, t) in &out {
        assert_eq!(t.text, corpus()[*i].0.text);
        assert!(t.masked.is_empty() && t.inserted.is_empty());
    }
    assert_eq!(c.inserted_tokens, 0);
}

#[test]
fn filter_drops_exactly_the_documents_over_tau() {
    for (agg, tau) in [(Aggregate::Max, 0.5), (Aggregate::Mean, 0.3), (Aggregate::Mean, 0.6)] {
        let cfg = TransformConfig { mode: Mode::Filter, aggregate: agg, tau, every: 16, ..TransformConfig::default() };
        let (out, c) = run_all(&cfg);
        let kept: Vec<usize> = out.iter().map(|(i, _)| *i).collect();
        let expected: Vec<usize> = corpus()
            .iter()
            .enumerate()
            .filter(|(_, (d, s))| {
                let scores: Vec<f32> =
                    segments(&d.text, 16, &Whitespace).iter().map(|g| label_segment(g, s).score).collect();
                let score = match agg {
                    Aggregate::Max => scores.iter().cloned().fold(0.0, f32::max),
                    Aggregate::Mean => scores.iter().sum::<f32>() / scores.len() as f32,
                };
                score < tau
            })
            .map(|(i, _)| i)
            .collect();
        assert_eq!(kept, expected, "{agg:?} {tau}");
        assert_eq!(c.docs_dropped as usize, corpus().len() - kept.len());
        if agg == Aggregate::Max {
            // Ground truth scores are 0/1: max filtering drops every document with unsafe text.
            let with_unsafe = corpus().iter().filter(|(_, s)| s.iter().any(Span::is_unsafe)).count();
            assert_eq!(c.docs_dropped as usize, with_unsafe);
        }
        for (i, t) in &out {
            assert_eq!(t.text, corpus()[*i].0.text);
        }
    }
}

/// Filtering segments: every safe segment's text is kept, in order, every unsafe segment's text
/// is gone with nothing in its place, and a document with nothing safe left is dropped.
#[test]
fn filter_by_segment_keeps_every_safe_segment_and_no_unsafe_one() {
    let cfg = TransformConfig {
        mode: Mode::Filter,
        filter_unit: FilterUnit::Segment,
        every: 16,
        ..TransformConfig::default()
    };
    let (out, c) = run_all(&cfg);
    let mut dropped_segments = 0;
    let mut kept_docs = 0;
    for (i, (d, spans)) in corpus().iter().enumerate() {
        let segs = segments(&d.text, 16, &Whitespace);
        let safe: Vec<&str> =
            segs.iter().filter(|g| label_segment(g, spans).score < 0.5).map(|g| d.text[g.clone()].trim()).collect();
        dropped_segments += segs.len() - safe.len();
        let Some((_, t)) = out.iter().find(|(j, _)| *j == i) else {
            assert!(safe.iter().all(|s| s.is_empty()), "document {i} dropped with safe text left");
            continue;
        };
        kept_docs += 1;
        assert!(t.inserted.is_empty() && t.masked.is_empty(), "nothing inserted or masked");
        // The safe segments, in order, and nothing else but the whitespace between them.
        let mut rest = t.text.as_str();
        for s in &safe {
            let at = rest.find(s).unwrap_or_else(|| panic!("document {i} lost a safe segment: {s:?}"));
            assert!(rest[..at].trim().is_empty(), "document {i} kept text outside its safe segments");
            rest = &rest[at + s.len()..];
        }
        assert!(rest.trim().is_empty(), "document {i} kept text after its last safe segment: {rest:?}");
        for span in spans.iter().filter(|s| s.is_unsafe()) {
            let unsafe_text = d.text[span.start..span.end].trim();
            assert!(unsafe_text.len() < 12 || !t.text.contains(unsafe_text), "document {i} kept unsafe text");
        }
    }
    assert!(dropped_segments > 0 && kept_docs > 0);
    assert_eq!(c.segments_dropped as usize, dropped_segments);
    assert_eq!(c.docs_out as usize, kept_docs);
    // With the segment unit a mixed document stays: more documents than document filtering keeps.
    let (by_doc, _) = run_all(&TransformConfig { filter_unit: FilterUnit::Document, ..cfg.clone() });
    assert!(out.len() > by_doc.len(), "{} vs {}", out.len(), by_doc.len());
    // Scores need the text kept whole.
    assert!(TransformConfig { scores: true, ..cfg }.validate().is_err());
}

#[test]
fn tag_tags_every_segment_but_the_untagged_fraction() {
    let (out, c) = run_all(&TransformConfig { mode: Mode::Tag, untagged: 0.0, every: 8, ..TransformConfig::default() });
    assert_eq!(c.tags_safe + c.tags_unsafe, c.segments_safe + c.segments_unsafe_total());
    assert_eq!(c.tags_unsafe, c.segments_unsafe_total());
    for (i, t) in &out {
        let segs = segments(&corpus()[*i].0.text, 8, &Whitespace);
        assert_eq!(t.text.matches(SAFE_TAG).count() + t.text.matches(UNSAFE_TAG).count(), segs.len());
        assert!(t.masked.is_empty());
    }
    let (_, c) = run_all(&TransformConfig { mode: Mode::Tag, untagged: 0.1, every: 8, ..TransformConfig::default() });
    let total = c.tags_safe + c.tags_unsafe + c.segments_untagged;
    let frac = c.segments_untagged as f64 / total as f64;
    assert!((frac - 0.1).abs() < 0.03, "untagged {frac}");
}

#[test]
fn rewrite_replaces_every_unsafe_segment() {
    let (out, c) = run_all(&TransformConfig { mode: Mode::Rewrite, every: 8, ..TransformConfig::default() });
    assert_eq!(c.rewrites, c.segments_unsafe_total());
    for (i, t) in &out {
        let (doc, spans) = &corpus()[*i];
        for s in spans.iter().filter(|s| s.is_unsafe()) {
            assert!(!t.text.contains(&doc.text[s.start..s.end]), "{}: unsafe sentence survived", t.id);
        }
    }
}

#[test]
fn same_seed_same_bytes_other_seed_other_wording() {
    let (a, _) = run_all(&rsr(8));
    let (b, _) = run_all(&rsr(8));
    let (c, _) = run_all(&TransformConfig { seed: 12, ..rsr(8) });
    assert_eq!(a, b);
    assert_ne!(a, c);
}

// ---- file-level runs: bad input, atomic output, neutralisation, manifest ----

fn write_corpus(dir: &Path, docs: &[&str], annotations: &[AnnotationRecord]) {
    std::fs::create_dir_all(dir.join("annotations")).unwrap();
    std::fs::write(dir.join("documents.jsonl"), docs.join("\n") + "\n").unwrap();
    let mut w = JsonlWriter::create(dir.join("annotations/gt.jsonl")).unwrap();
    for a in annotations {
        w.write(a).unwrap();
    }
    w.finish().unwrap();
}

fn gt() -> LabelSource<'static> {
    LabelSource::Annotations("gt")
}

/// `rsr transform` with the `gt` annotations and whitespace token counts.
fn run_gt(
    input: &rsr_core::corpus::CorpusDir,
    out: &Path,
    cfg: &TransformConfig,
    opts: &RunOptions,
) -> rsr_core::Result<run::Transformed> {
    run::transform(input, out, cfg, gt(), opts, &Whitespace, &mut |_, _| {})
}

#[test]
fn special_tokens_in_data_cannot_forge_a_reflection() {
    let dir = tempfile::tempdir().unwrap();
    let forged = r#"{"id":"a","text":"Nice day.<|reflect|>safe<|/reflect|> Still nice."}"#;
    write_corpus(
        &dir.path().join("in"),
        &[forged],
        &[AnnotationRecord { id: "a".into(), spans: vec![Span::safe(0, 9)] }],
    );
    let out = dir.path().join("out");
    let cfg = TransformConfig { every: 1000, ..TransformConfig::default() };
    let m =
        run_gt(&rsr_core::corpus::CorpusDir::new(dir.path().join("in")), &out, &cfg, &RunOptions::default()).unwrap();
    let docs: Vec<TransformedDoc> = read_all(out.join("documents.jsonl")).unwrap();
    let t = &docs[0];
    assert_eq!(t.text.matches(REFLECT_OPEN).count(), 1, "{}", t.text);
    let at = t.text.find(REFLECT_OPEN).unwrap();
    assert!(inside(&t.inserted, at));
    assert!(t.text.contains("<!reflect!>safe<!/reflect!>"));
    assert_eq!(m.counts.docs_neutralised, 1);
}

#[test]
fn malformed_lines_are_counted_and_skipped_or_stop_with_strict() {
    let dir = tempfile::tempdir().unwrap();
    let docs = [
        r#"{"id":"a","text":"One."}"#,
        r#"{"id":"b","text": oops}"#,
        r#"{"text":"no id"}"#,
        r#"{"id":"c","text":"Two."}"#,
    ];
    let ann = [
        AnnotationRecord { id: "a".into(), spans: vec![Span::safe(0, 4)] },
        AnnotationRecord { id: "c".into(), spans: vec![Span::safe(0, 4)] },
    ];
    write_corpus(&dir.path().join("in"), &docs, &ann);
    let input = rsr_core::corpus::CorpusDir::new(dir.path().join("in"));
    let out = dir.path().join("out");
    let cfg = TransformConfig::default();
    let m = run_gt(&input, &out, &cfg, &RunOptions::default()).unwrap();
    assert_eq!(m.counts.records_skipped, 2);
    assert_eq!(m.counts.transform.docs_out, 2);

    std::fs::remove_dir_all(&out).unwrap();
    let strict = RunOptions { strict: true, ..Default::default() };
    let err = run_gt(&input, &out, &cfg, &strict).unwrap_err().to_string();
    assert!(err.contains("documents.jsonl:2:"), "{err}");
    // Nothing half-written.
    assert!(!out.join("documents.jsonl").exists());
    assert_eq!(std::fs::read_dir(&out).map(|d| d.count()).unwrap_or(0), 0, "temporary files left behind");
}

#[test]
fn an_annotation_without_a_document_is_an_error_and_old_output_survives() {
    let dir = tempfile::tempdir().unwrap();
    let docs = [r#"{"id":"a","text":"One."}"#];
    write_corpus(&dir.path().join("in"), &docs, &[AnnotationRecord { id: "a".into(), spans: vec![Span::safe(0, 4)] }]);
    let input = rsr_core::corpus::CorpusDir::new(dir.path().join("in"));
    let out = dir.path().join("out");
    run_gt(&input, &out, &TransformConfig::default(), &RunOptions::default()).unwrap();
    let before = std::fs::read(out.join("documents.jsonl")).unwrap();

    write_corpus(
        &dir.path().join("in"),
        &docs,
        &[
            AnnotationRecord { id: "a".into(), spans: vec![Span::safe(0, 4)] },
            AnnotationRecord { id: "zzz".into(), spans: vec![Span::safe(0, 4)] },
        ],
    );
    let err = run_gt(&input, &out, &TransformConfig::default(), &RunOptions::default()).unwrap_err().to_string();
    assert!(err.contains("match no document") && err.contains("zzz") && err.contains("HINT"), "{err}");
    assert_eq!(std::fs::read(out.join("documents.jsonl")).unwrap(), before);

    let err = run::transform(
        &input,
        &out,
        &TransformConfig::default(),
        LabelSource::Annotations("nope"),
        &RunOptions::default(),
        &Whitespace,
        &mut |_, _| {},
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("no annotation `nope` (available: gt)"), "{err}");
}

#[test]
fn manifest_records_knobs_and_counts_that_add_up() {
    let dir = tempfile::tempdir().unwrap();
    let docs: Vec<String> = corpus().iter().map(|(d, _)| serde_json::to_string(d).unwrap()).collect();
    let refs: Vec<&str> = docs.iter().map(String::as_str).collect();
    let ann: Vec<AnnotationRecord> =
        corpus().iter().map(|(d, s)| AnnotationRecord { id: d.id.clone(), spans: s.clone() }).collect();
    write_corpus(&dir.path().join("in"), &refs, &ann);
    let out = dir.path().join("out");
    let cfg = TransformConfig { every: 16, ..TransformConfig::default() };
    let input = rsr_core::corpus::CorpusDir::new(dir.path().join("in"));
    let m = run_gt(&input, &out, &cfg, &RunOptions { compress: true, ..Default::default() }).unwrap();
    assert!(out.join("documents.jsonl.zst").exists());
    let back = rsr_core::manifest::Manifest::read(&out).unwrap();
    assert_eq!(back.knobs["transform"]["every"], 16);
    assert_eq!(back.knobs["transform"]["mode"], "rsr");
    assert_eq!(m.counts.transform.docs_in, corpus().len() as u64);
    let overhead = m.counts.token_overhead;
    assert!(overhead > 0.05 && overhead < 2.0, "{overhead}");
    let masked = m.counts.masked_fraction;
    assert!(masked > 0.0 && masked < 0.5, "{masked}");
    // A rerun with another compression leaves exactly one documents file.
    run_gt(&input, &out, &cfg, &RunOptions::default()).unwrap();
    assert!(out.join("documents.jsonl").exists() && !out.join("documents.jsonl.zst").exists());
}

#[test]
fn annotations_in_another_order_than_the_documents_still_match() {
    let dir = tempfile::tempdir().unwrap();
    let docs = [r#"{"id":"a","text":"One."}"#, r#"{"id":"b","text":"Two."}"#, r#"{"id":"c","text":"Bad."}"#];
    let ann = [
        AnnotationRecord { id: "c".into(), spans: vec![Span::unsafe_(0, 4, rsr_core::taxonomy::Category::Hate)] },
        AnnotationRecord { id: "a".into(), spans: vec![Span::safe(0, 4)] },
    ];
    write_corpus(&dir.path().join("in"), &docs, &ann);
    let out = dir.path().join("out");
    let m = run_gt(
        &rsr_core::corpus::CorpusDir::new(dir.path().join("in")),
        &out,
        &TransformConfig::default(),
        &RunOptions::default(),
    )
    .unwrap();
    assert_eq!(m.counts.transform.reflections_unsafe, 1);
    assert_eq!(m.counts.transform.docs_unannotated, 1);
    let docs: Vec<TransformedDoc> = read_all(out.join("documents.jsonl")).unwrap();
    assert!(docs[2].text.starts_with("Bad.<|reflect|><|unsafe|> hate"));
}

#[test]
fn format_v2_writes_short_reflections_and_v1_stays_available() {
    use rsr_core::reflection::{find_all, Format, Verdict};
    let kinds = |text: &str| -> Vec<Option<rsr_core::taxonomy::Category>> {
        find_all(text)
            .map(|v| match v.unwrap() {
                Verdict::Safe => None,
                Verdict::Unsafe { category, .. } => Some(category),
            })
            .collect()
    };
    let (v2, c2) = run_all(&TransformConfig { rationale_rate: 0.0, ..rsr(8) });
    let (v1, c1) = run_all(&TransformConfig { format: Format::V1, ..rsr(8) });
    assert_eq!((c2.reflections_safe, c2.reflections_unsafe), (c1.reflections_safe, c1.reflections_unsafe));
    for ((_, a), (_, b)) in v2.iter().zip(&v1) {
        assert_eq!(kinds(&a.text), kinds(&b.text), "the same verdicts in both formats: {}", a.id);
        assert_eq!(strip_inserted(a), strip_inserted(b));
        assert!(!a.text.contains("<|reflect|>safe") && !a.text.contains("<|reflect|>unsafe"));
    }
    // A v2 safe reflection is two special tokens, an unsafe one two plus its category and close.
    let bare = 2 * c2.reflections_safe + 3 * c2.reflections_unsafe;
    assert!(
        c2.inserted_tokens >= bare + c2.reflections_unsafe && c2.inserted_tokens <= bare + 2 * c2.reflections_unsafe
    );
    assert!(c2.inserted_tokens * 2 < c1.inserted_tokens, "{} vs {}", c2.inserted_tokens, c1.inserted_tokens);
    // --rationale-rate 1: every unsafe verdict explains itself.
    let (all, _) = run_all(&TransformConfig { rationale_rate: 1.0, ..rsr(8) });
    let rationales: Vec<bool> = all
        .iter()
        .flat_map(|(_, t)| find_all(&t.text).map(|v| v.unwrap()).collect::<Vec<_>>())
        .filter_map(|v| match v {
            Verdict::Unsafe { rationale, .. } => Some(!rationale.is_empty()),
            Verdict::Safe => None,
        })
        .collect();
    assert!(!rationales.is_empty() && rationales.iter().all(|&r| r));
}

#[test]
fn refuse_keeps_every_request_and_turns_unsafe_answers_into_one_refusal() {
    use rsr_core::reflection::REDIRECTS;
    let (out, c) = run_all(&TransformConfig { mode: Mode::Refuse, every: 8, ..TransformConfig::default() });
    assert!(c.rewrites > 0);
    let mut refusals = 0;
    for (i, t) in &out {
        let (doc, spans) = &corpus()[*i];
        // Every user line of the input survives whole, harmful requests included.
        for line in doc.text.lines().filter(|l| l.starts_with("User:")) {
            assert!(t.text.lines().any(|l| l == line), "{}: lost the request `{line}`:\n{}", t.id, t.text);
        }
        // No unsafe sentence of an assistant turn survives.
        for s in spans.iter().filter(|s| s.is_unsafe()) {
            let line = doc.text[..s.start].rfind('\n').map(|i| i + 1).unwrap_or(0);
            if doc.text[line..].starts_with("Assistant:") {
                assert!(!t.text.contains(&doc.text[s.start..s.end]), "{}: unsafe answer survived", t.id);
            }
        }
        // An answer is refused once, however many unsafe segments it had.
        for line in t.text.lines().filter(|l| l.starts_with("Assistant:")) {
            let n: usize = REDIRECTS.iter().map(|r| line.matches(r).count()).sum();
            assert!(n <= 1, "{}: refused twice: {line}", t.id);
            refusals += n;
        }
    }
    assert!(refusals > 0, "no unsafe answer became a refusal");
    // Everything not inserted is original text, in order (a subsequence of it).
    for (i, t) in &out {
        let mut orig = corpus()[*i].0.text.bytes();
        let kept = strip_inserted(t);
        assert!(kept.bytes().all(|b| orig.any(|o| o == b)), "{}: kept text is not the original's, in order", t.id);
    }
}

/// Every refusal form keeps no unsafe answer and writes what it says: `varied` is the default's
/// corpus byte for byte; `fixed`, `category` and `offer` change only the refusal's words;
/// `no-notice` writes no notice; `half` deletes about half the answers; `drop-exchange` inserts
/// nothing and drops the requests of unsafe segments.
#[test]
fn each_refusal_form_writes_what_it_says() {
    use rsr_core::reflection::{describe, REDIRECTS};
    let base = TransformConfig { mode: Mode::Refuse, every: 8, ..TransformConfig::default() };
    let run = |refusal| run_all(&TransformConfig { refusal, ..base.clone() });
    let (default, dc) = run_all(&base);
    let inserted = |t: &TransformedDoc| -> Vec<String> {
        t.inserted.iter().map(|r| t.text[r[0]..r[1]].trim().to_string()).collect()
    };
    let notice = |s: &str| !s.is_empty() && !s.starts_with("I ");
    let (varied, _) = run(RefusalForm::Varied);
    assert_eq!(varied, default, "varied is the default");
    assert!(
        default.iter().flat_map(|(_, t)| inserted(t)).any(|s| notice(&s)),
        "the world has unsafe text outside turns"
    );
    for form in [
        RefusalForm::Fixed,
        RefusalForm::Category,
        RefusalForm::Offer,
        RefusalForm::NoNotice,
        RefusalForm::Half,
        RefusalForm::DropExchange,
    ] {
        let (out, c) = run(form);
        for (i, t) in &out {
            let (doc, spans) = &corpus()[*i];
            for s in spans.iter().filter(|s| s.is_unsafe()) {
                let line = doc.text[..s.start].rfind('\n').map(|i| i + 1).unwrap_or(0);
                if doc.text[line..].starts_with("Assistant:") {
                    assert!(!t.text.contains(&doc.text[s.start..s.end]), "{form:?} {}: unsafe answer survived", t.id);
                }
            }
            for s in inserted(t).iter().filter(|s| !s.is_empty() && !notice(s)) {
                match form {
                    RefusalForm::Fixed => assert_eq!(s, REDIRECTS[0]),
                    RefusalForm::Category => {
                        assert!(
                            s.starts_with("I will not explain ")
                                && spans.iter().any(|x| x.category.is_some_and(|c| s.contains(describe(c)))),
                            "{s}"
                        )
                    }
                    RefusalForm::Offer => assert!(s.ends_with("I am glad to help with something safe instead."), "{s}"),
                    RefusalForm::DropExchange => panic!("drop-exchange inserted a refusal: {s}"),
                    _ => assert!(REDIRECTS.contains(&s.as_str()), "{form:?}: {s}"),
                }
            }
            if form == RefusalForm::NoNotice {
                assert!(inserted(t).iter().all(|s| !notice(s)), "{}: a notice under no-notice", t.id);
            }
        }
        let answers = dc.rewrites as f64; // refusals + notices in the default
        match form {
            RefusalForm::Half => {
                assert!(c.answers_deleted > 0 && c.rewrites > 0 && (c.rewrites as f64) < answers, "{c:?}")
            }
            RefusalForm::DropExchange => assert!(c.answers_deleted > 0),
            _ => assert_eq!(c.answers_deleted, 0),
        }
        if form == RefusalForm::DropExchange {
            // Some harmful request of the input is gone (the default keeps every one).
            let lost = out.iter().any(|(i, t)| {
                corpus()[*i].0.text.lines().filter(|l| l.starts_with("User:")).any(|l| !t.text.lines().any(|o| o == l))
            });
            assert!(lost, "drop-exchange kept every request");
        }
    }
}

/// `--scores`: each score range holds exactly one input segment's text, with that segment's
/// score, in every transform that keeps the text (insertions before and after it included); the
/// transforms that replace text refuse the knob.
#[test]
fn scores_name_each_segment_of_the_output() {
    for mode in [Mode::Rsr, Mode::Tag, Mode::Raw] {
        let cfg = TransformConfig { mode, scores: true, ..rsr(8) };
        let (out, _) = run_all(&cfg);
        for (i, t) in &out {
            let (doc, spans) = &corpus()[*i];
            let segs = segments(&doc.text, 8, &Whitespace);
            assert_eq!(t.scores.len(), segs.len(), "{mode:?} {}", t.id);
            for (r, (s, e, x)) in segs.iter().zip(&t.scores) {
                assert_eq!(&t.text[*s..*e], &doc.text[r.clone()], "{mode:?} {}", t.id);
                assert_eq!(*x, label_segment(r, spans).score);
            }
        }
        // Without the knob, nothing is written.
        let (plain, _) = run_all(&TransformConfig { mode, ..rsr(8) });
        assert!(plain.iter().all(|(_, t)| t.scores.is_empty()));
    }
    let truncated = TransformConfig { after_unsafe: AfterUnsafe::Truncate, scores: true, ..rsr(8) };
    for (_, t) in run_all(&truncated).0 {
        assert!(t.scores.iter().all(|&(s, e, _)| s < e && e <= t.text.len()));
    }
    for mode in [Mode::Rewrite, Mode::Refuse] {
        let err = TransformConfig { mode, scores: true, ..rsr(8) }.validate().unwrap_err();
        assert!(err.contains("--scores"), "{err}");
    }
}
