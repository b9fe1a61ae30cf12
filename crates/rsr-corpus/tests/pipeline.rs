//! One transform loop, two sinks: the same input through `run::transform` (a
//! corpus directory) and `scale::transform_files` (one part per input file)
//! gives the same documents, byte for byte, and the same counts — with labels
//! from a field and from an annotator, bad records, an over-long document and
//! a malformed label among the input.

use rsr_core::annotation::{LabelKind, Span};
use rsr_core::corpus::CorpusDir;
use rsr_core::doc::DocFields;
use rsr_core::taxonomy::Category;
use rsr_corpus::annotator::Annotator;
use rsr_corpus::label::LabelSource;
use rsr_corpus::run::{self, RunOptions};
use rsr_corpus::scale::{merge_stats, transform_files, Rank, ScaleConfig};
use rsr_corpus::segment::{sentences, Whitespace};
use rsr_corpus::transform::{Mode, TransformConfig};
use rsr_world::{generate_in_memory, WorldConfig};
use std::path::Path;

/// Marks every sentence with "hate" in it unsafe (hate).
struct Keyword;

impl Annotator for Keyword {
    fn describe(&self) -> serde_json::Value {
        serde_json::json!({"annotator": "keyword"})
    }
    fn annotate(&self, text: &str) -> rsr_core::Result<Vec<Span>> {
        Ok(sentences(text)
            .into_iter()
            .map(|r| {
                let bad = text[r.clone()].contains("hate");
                Span {
                    start: r.start,
                    end: r.end,
                    label: if bad { LabelKind::Unsafe } else { LabelKind::Safe },
                    category: bad.then_some(Category::Hate),
                    score: Some(if bad { 0.9 } else { 0.1 }),
                }
            })
            .collect())
    }
}

/// A documents file: world documents with a `safety` field, plus a record that is not JSON
/// (line 3), a malformed label (line 6) and a document over the 10 kB cap (line 9).
fn write_input(dir: &Path) -> std::path::PathBuf {
    let g = generate_in_memory(3, WorldConfig { docs: 200, heldout_docs: 10, ..WorldConfig::default() });
    let mut lines: Vec<String> = g
        .train
        .iter()
        .map(|(d, s)| {
            let label = match s.iter().find(|x| x.is_unsafe()) {
                Some(x) => format!("unsafe:{}", x.category.unwrap().slug()),
                None => "safe".into(),
            };
            serde_json::json!({"id": d.id, "text": d.text, "safety": label}).to_string()
        })
        .collect();
    lines[2] = "{not json".into();
    lines[5] = serde_json::json!({"id": "bad-label", "text": "Hello there.", "safety": 42}).to_string();
    lines[8] = serde_json::json!({"id": "huge", "text": "word ".repeat(3000), "safety": "safe"}).to_string();
    std::fs::create_dir_all(dir).unwrap();
    let path = dir.join("documents.jsonl");
    std::fs::write(&path, lines.join("\n") + "\n").unwrap();
    path
}

#[test]
fn both_sinks_write_the_same_documents_and_counts() {
    let tmp = tempfile::tempdir().unwrap();
    let input = write_input(&tmp.path().join("corpus"));
    let keyword = Keyword;
    for (name, labels, mode) in [
        ("field", LabelSource::Field("safety"), Mode::Rsr),
        ("annotator", LabelSource::Annotator(&keyword), Mode::Rsr),
        ("filter", LabelSource::Field("safety"), Mode::Filter),
    ] {
        let cfg = TransformConfig { mode, every: 16, ..TransformConfig::default() };
        let dir_out = tmp.path().join(format!("{name}-dir"));
        let opts = RunOptions { max_doc_bytes: 10_000, ..RunOptions::default() };
        let m1 = run::transform(
            &CorpusDir::new(tmp.path().join("corpus")),
            &dir_out,
            &cfg,
            labels,
            &opts,
            &Whitespace,
            &mut |_, _| {},
        )
        .unwrap();
        let parts_out = tmp.path().join(format!("{name}-parts"));
        let sc = ScaleConfig {
            transform: &cfg,
            labels,
            fields: DocFields::default(),
            counter: &Whitespace,
            max_doc_bytes: 10_000,
            strict: false,
            compress: false,
        };
        let report = transform_files(
            std::slice::from_ref(&input),
            &parts_out,
            &sc,
            Rank { rank: 0, world_size: 1 },
            &mut |_| {},
        )
        .unwrap();
        let m2 = merge_stats(&parts_out).unwrap();

        let a = std::fs::read_to_string(dir_out.join("documents.jsonl")).unwrap();
        let b = std::fs::read_to_string(parts_out.join("parts/part-00000.jsonl")).unwrap();
        assert!(!a.is_empty());
        assert_eq!(a, b, "{name}: the two sinks wrote different documents");
        for k in [
            "docs_in",
            "docs_out",
            "docs_dropped",
            "segments_safe",
            "segments_unsafe",
            "reflections_safe",
            "reflections_unsafe",
            "docs_unannotated",
            "records_skipped",
            "docs_over_cap",
            "bytes_in",
        ] {
            // As written in the two manifests.
            assert_eq!(m1.manifest.counts[k], m2.manifest.counts[k], "{name}: count `{k}` differs");
        }
        assert_eq!(m1.counts.docs_over_cap, 1, "{name}");
        let skipped = if name == "annotator" { 1 } else { 2 };
        assert_eq!(m1.counts.records_skipped, skipped, "{name}: the bad JSON (and the bad label)");
        assert_eq!(report.over_cap, vec![(input.clone(), "huge".to_string())]);
        assert_eq!(m1.manifest.knobs["labels"], m2.manifest.knobs["labels"], "{name}");
        assert_eq!(m1.manifest.knobs["max_doc_bytes"], m2.manifest.knobs["max_doc_bytes"], "{name}");
    }
}

/// A strict corpus-directory transform of `corpus` that must fail: its error.
fn strict_dir_error(corpus: &Path, out: &Path, cfg: &TransformConfig) -> String {
    let strict = RunOptions { strict: true, ..RunOptions::default() };
    run::transform(
        &CorpusDir::new(corpus),
        out,
        cfg,
        LabelSource::Field("safety"),
        &strict,
        &Whitespace,
        &mut |_, _| {},
    )
    .unwrap_err()
    .to_string()
}

#[test]
fn record_errors_name_the_line_on_both_paths() {
    let tmp = tempfile::tempdir().unwrap();
    let corpus = tmp.path().join("corpus");
    let input = write_input(&corpus);
    let cfg = TransformConfig { every: 16, ..TransformConfig::default() };
    // Line 3 is not JSON; fixed, line 6's label is malformed.
    let e = strict_dir_error(&corpus, &tmp.path().join("out"), &cfg);
    assert!(e.contains("documents.jsonl:3"), "{e}");
    let fixed = std::fs::read_to_string(&input).unwrap().replacen("{not json", "{\"id\":\"ok\",\"text\":\"Fine.\"}", 1);
    std::fs::write(&input, fixed).unwrap();
    let e1 = strict_dir_error(&corpus, &tmp.path().join("out"), &cfg);
    let sc = ScaleConfig {
        transform: &cfg,
        labels: LabelSource::Field("safety"),
        fields: DocFields::default(),
        counter: &Whitespace,
        max_doc_bytes: 10_000,
        strict: true,
        compress: false,
    };
    let e2 = transform_files(&[input], &tmp.path().join("parts"), &sc, Rank { rank: 0, world_size: 1 }, &mut |_| {})
        .unwrap_err()
        .to_string();
    for e in [&e1, &e2] {
        assert!(e.contains("documents.jsonl:6") && e.contains("bad-label"), "{e}");
    }
}
