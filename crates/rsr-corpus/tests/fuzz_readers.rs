//! Property-based fuzzing of the document readers: arbitrary bytes, and
//! valid JSONL / gzip / zstd / Parquet files with random bytes flipped or cut,
//! must give documents or named errors — never a panic. PROPTEST_CASES sets
//! the number of cases per property (256 by default; docs/formats.md says how
//! long a larger run took).

mod common;

use proptest::prelude::*;
use rsr_core::doc::DocFields;
use rsr_corpus::scale::documents;
use std::io::Write;

fn drain(path: &std::path::Path) {
    // Either an error at open, or any mix of documents and record errors.
    if let Ok(it) = documents(path, &DocFields::default()) {
        for r in it.take(10_000) {
            let _ = r;
        }
    }
}

fn sample_jsonl() -> Vec<u8> {
    (0..40)
        .map(|i| serde_json::json!({"id": format!("d{i}"), "text": format!("Sentence {i}. Then more <|reflect|> text é."), "x": i}).to_string() + "\n")
        .collect::<String>()
        .into_bytes()
}

fn mutate(mut bytes: Vec<u8>, flips: &[(usize, u8)], cut: Option<usize>) -> Vec<u8> {
    for &(i, b) in flips {
        if !bytes.is_empty() {
            let n = bytes.len();
            bytes[i % n] ^= b;
        }
    }
    if let Some(c) = cut {
        bytes.truncate(c % (bytes.len() + 1));
    }
    bytes
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..4096), ext in prop::sample::select(vec!["jsonl", "jsonl.gz", "jsonl.zst", "parquet"])) {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join(format!("f.{ext}"));
        std::fs::write(&p, &bytes).unwrap();
        drain(&p);
    }

    #[test]
    fn damaged_files_never_panic(flips in proptest::collection::vec((any::<usize>(), 1u8..=255), 0..8), cut in proptest::option::of(any::<usize>()), kind in 0usize..4) {
        let dir = tempfile::tempdir().unwrap();
        let raw = sample_jsonl();
        let (name, bytes) = match kind {
            0 => ("f.jsonl", raw),
            1 => {
                let mut e = flate2::write::GzEncoder::new(Vec::new(), Default::default());
                e.write_all(&raw).unwrap();
                ("f.jsonl.gz", e.finish().unwrap())
            }
            2 => ("f.jsonl.zst", zstd::encode_all(&raw[..], 3).unwrap()),
            _ => ("f.parquet", parquet_bytes()),
        };
        let p = dir.path().join(name);
        std::fs::write(&p, mutate(bytes, &flips, cut)).unwrap();
        drain(&p);
    }
}

fn parquet_bytes() -> Vec<u8> {
    common::parquet_bytes(&[
        ("id", (0..30).map(|i| format!("d{i}")).collect()),
        ("text", (0..30).map(|i| format!("Text {i}. More.")).collect()),
    ])
}
