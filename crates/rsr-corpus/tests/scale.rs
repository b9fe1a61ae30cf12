//! Scaled-out transforms: many formats in, N ranks, a run killed mid-way and
//! resumed — the parts must equal an uninterrupted run's, byte for byte — and
//! bad inputs as named errors, never panics.

mod common;

use rsr_core::doc::DocFields;
use rsr_corpus::label::LabelSource;
use rsr_corpus::scale::{input_files, merge_stats, transform_files, Rank, ScaleConfig};
use rsr_corpus::segment::Whitespace;
use rsr_corpus::transform::TransformConfig;
use rsr_world::{generate_in_memory, WorldConfig};
use std::io::Write;
use std::path::{Path, PathBuf};

/// (id, text, doc-level label) rows from a small world.
fn rows() -> Vec<(String, String, String)> {
    let g = generate_in_memory(9, WorldConfig { docs: 500, heldout_docs: 10, ..WorldConfig::default() });
    g.train
        .into_iter()
        .map(|(d, s)| {
            let label = match s.iter().find(|x| x.is_unsafe()) {
                Some(x) => format!("unsafe:{}", x.category.unwrap().slug()),
                None => "safe".into(),
            };
            (d.id, d.text, label)
        })
        .collect()
}

fn jsonl(rows: &[(String, String, String)]) -> String {
    rows.iter().map(|(i, t, l)| serde_json::json!({"id": i, "text": t, "safety": l}).to_string() + "\n").collect()
}

fn write_parquet(path: &Path, rows: &[(String, String, String)], text_col: &str) {
    let col = |f: fn(&(String, String, String)) -> &String| rows.iter().map(|r| f(r).clone()).collect();
    let bytes = common::parquet_bytes(&[("id", col(|r| &r.0)), (text_col, col(|r| &r.1)), ("safety", col(|r| &r.2))]);
    std::fs::write(path, bytes).unwrap();
}

/// Five inputs: plain, gzip, zstd, Parquet, and a plain file with bad records.
fn inputs(dir: &Path) -> Vec<String> {
    let r = rows();
    let chunk: Vec<&[(String, String, String)]> = r.chunks(100).collect();
    std::fs::write(dir.join("a.jsonl"), jsonl(chunk[0])).unwrap();
    let mut gz =
        flate2::write::GzEncoder::new(std::fs::File::create(dir.join("b.jsonl.gz")).unwrap(), Default::default());
    gz.write_all(jsonl(chunk[1]).as_bytes()).unwrap();
    gz.finish().unwrap();
    std::fs::write(dir.join("c.jsonl.zst"), zstd::encode_all(jsonl(chunk[2]).as_bytes(), 3).unwrap()).unwrap();
    write_parquet(&dir.join("d.parquet"), chunk[3], "text");
    // Bad records: invalid UTF-8, a number for text, no id (gets FILE:LINE), one over the size cap.
    let mut e = jsonl(&chunk[4][..50]).into_bytes();
    e.extend_from_slice(b"{\"id\": \"bad-utf8\", \"text\": \"\xff\xfe\"}\n{\"id\": \"num\", \"text\": 5}\n");
    e.extend_from_slice(b"{\"text\": \"No id here. It is fine.\", \"safety\": \"safe\"}\n");
    e.extend_from_slice(
        serde_json::json!({"id": "huge", "text": "word ".repeat(5000), "safety": "safe"}).to_string().as_bytes(),
    );
    e.push(b'\n');
    e.extend_from_slice(jsonl(&chunk[4][50..]).as_bytes());
    std::fs::write(dir.join("e.jsonl"), e).unwrap();
    vec![dir.display().to_string()]
}

/// The tests' settings: rsr every 16 words, labels from the `safety` field, a 10 kB cap.
fn with_config<R>(f: impl FnOnce(&ScaleConfig) -> R) -> R {
    let t = TransformConfig { every: 16, ..TransformConfig::default() };
    f(&scale_config(&t))
}

/// The tests' settings around transform `t`.
fn scale_config(t: &TransformConfig) -> ScaleConfig<'_> {
    ScaleConfig {
        transform: t,
        labels: LabelSource::Field("safety"),
        fields: DocFields::default(),
        counter: &Whitespace,
        max_doc_bytes: 10_000,
        strict: false,
        compress: true,
    }
}

fn run(files: &[PathBuf], out: &Path, rank: Rank, stop_after: Option<u64>) -> std::thread::Result<()> {
    with_config(|sc| run_with(sc, files, out, rank, stop_after))
}

fn run_with(
    sc: &ScaleConfig,
    files: &[PathBuf],
    out: &Path,
    rank: Rank,
    stop_after: Option<u64>,
) -> std::thread::Result<()> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        transform_files(files, out, sc, rank, &mut |p| {
            if stop_after.is_some_and(|n| p.docs >= n) {
                panic!("killed");
            }
        })
        .unwrap();
    }))
}

fn parts(out: &Path) -> Vec<(String, Vec<u8>)> {
    let mut v: Vec<(String, Vec<u8>)> = std::fs::read_dir(out.join("parts"))
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().ends_with(".jsonl.zst"))
        .map(|e| {
            (
                e.file_name().to_string_lossy().into_owned(),
                zstd::decode_all(&std::fs::read(e.path()).unwrap()[..]).unwrap(),
            )
        })
        .collect();
    v.sort();
    v
}

#[test]
fn ranks_and_resume_give_the_uninterrupted_output() {
    let dir = tempfile::tempdir().unwrap();
    let inp = dir.path().join("in");
    std::fs::create_dir(&inp).unwrap();
    let files = input_files(&inputs(&inp)).unwrap();
    assert_eq!(files.len(), 5);

    let whole = dir.path().join("whole");
    run(&files, &whole, Rank { rank: 0, world_size: 1 }, None).unwrap();
    let m = merge_stats(&whole).unwrap();
    assert_eq!(m.counts.parts, Some(5));
    assert_eq!(m.counts.transform.docs_in, 501, "500 good + 1 without id; the huge one never reaches the transform");
    assert_eq!(m.counts.docs_over_cap, 1);
    assert_eq!(m.counts.records_skipped, 2, "invalid UTF-8 and a numeric text");
    assert!(m.counts.transform.reflections_unsafe > 0);
    let reference = parts(&whole);
    assert!(String::from_utf8_lossy(&reference[4].1).contains("\"id\":\"e.jsonl:53\""), "a generated, stable id");

    // Three ranks, each killed part-way through its first file, then rerun.
    let split = dir.path().join("split");
    for r in 0..3 {
        let rank = Rank { rank: r, world_size: 3 };
        assert!(run(&files, &split, rank, Some(30)).is_err(), "the kill happened");
    }
    let err = merge_stats(&split).unwrap_err().to_string();
    assert!(err.contains("parts are done") || err.contains("no completed parts"), "{err}");
    for r in 0..3 {
        run(&files, &split, Rank { rank: r, world_size: 3 }, None).unwrap();
    }
    assert_eq!(parts(&split), reference);
    assert_eq!(merge_stats(&split).unwrap().manifest.counts, m.manifest.counts);

    // A rerun of a finished rank does nothing.
    let t0 = std::fs::metadata(split.join("parts/part-00000.jsonl.zst")).unwrap().modified().unwrap();
    run(&files, &split, Rank { rank: 0, world_size: 3 }, None).unwrap();
    assert_eq!(std::fs::metadata(split.join("parts/part-00000.jsonl.zst")).unwrap().modified().unwrap(), t0);
}

#[test]
fn bad_files_are_named_errors() {
    with_config(bad_files)
}

fn bad_files(sc: &ScaleConfig) {
    let dir = tempfile::tempdir().unwrap();
    let one = Rank { rank: 0, world_size: 1 };
    let r = rows();

    let pq = dir.path().join("wrong.parquet");
    write_parquet(&pq, &r[..5], "body");
    let err = transform_files(&[pq], &dir.path().join("o1"), sc, one, &mut |_| {}).unwrap_err().to_string();
    assert!(err.contains("wrong.parquet") && err.contains("no column `text`") && err.contains("body"), "{err}");

    let zst = dir.path().join("cut.jsonl.zst");
    let full = zstd::encode_all(jsonl(&r[..200]).as_bytes(), 3).unwrap();
    std::fs::write(&zst, &full[..full.len() / 2]).unwrap();
    let err = transform_files(&[zst], &dir.path().join("o2"), sc, one, &mut |_| {}).unwrap_err().to_string();
    assert!(err.contains("cut.jsonl.zst") && err.contains("truncated or corrupt"), "{err}");

    let gz = dir.path().join("cut.jsonl.gz");
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), Default::default());
    enc.write_all(jsonl(&r[..200]).as_bytes()).unwrap();
    let full = enc.finish().unwrap();
    std::fs::write(&gz, &full[..full.len() / 2]).unwrap();
    let err = transform_files(&[gz], &dir.path().join("o3"), sc, one, &mut |_| {}).unwrap_err().to_string();
    assert!(err.contains("cut.jsonl.gz"), "{err}");

    let err = input_files(&[dir.path().join("nothing-*.jsonl").display().to_string()]).unwrap_err().to_string();
    assert!(err.contains("matches no file"), "{err}");
    assert!(Rank::resolve(Some(3), Some(3)).is_err());
}

/// A part with no documents holds no corpus to mix, so its settings are not compared (a pipeline
/// rank that read nothing may not know the run's); the manifest takes a non-empty part's knobs.
#[test]
fn an_empty_part_may_have_other_settings() {
    let dir = tempfile::tempdir().unwrap();
    let inp = dir.path().join("in");
    std::fs::create_dir(&inp).unwrap();
    std::fs::write(inp.join("a.jsonl"), "").unwrap();
    std::fs::write(inp.join("b.jsonl"), jsonl(&rows()[..50])).unwrap();
    let files = input_files(&[inp.display().to_string()]).unwrap();
    let out = dir.path().join("out");
    let t = TransformConfig { every: 16, mask: rsr_corpus::transform::MaskPolicy::None, ..TransformConfig::default() };
    run_with(&scale_config(&t), &files, &out, Rank { rank: 0, world_size: 2 }, None).unwrap();
    run(&files, &out, Rank { rank: 1, world_size: 2 }, None).unwrap();
    let merged = merge_stats(&out).unwrap();
    assert_eq!(merged.counts.transform.docs_in, 50);
    assert_eq!(merged.manifest.knobs["transform"]["mask"], "unsafe");
    // A non-empty part with other settings is still refused.
    run_with(&scale_config(&t), &files, &out, Rank { rank: 1, world_size: 2 }, None).unwrap();
    std::fs::write(inp.join("a.jsonl"), jsonl(&rows()[50..60])).unwrap();
    run(&files, &out, Rank { rank: 0, world_size: 2 }, None).unwrap();
    let err = merge_stats(&out).unwrap_err().to_string();
    assert!(err.contains("other settings"), "{err}");
}

/// Parts are verified before they are merged (or packed): ranks run with other flags, a part
/// changed, truncated or deleted after its marker — each is refused, naming the file.
#[test]
fn parts_that_do_not_match_their_markers_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let inp = dir.path().join("in");
    std::fs::create_dir(&inp).unwrap();
    let files = input_files(&inputs(&inp)).unwrap();
    let out = dir.path().join("out");
    // Rank 0 with the tests' settings, rank 1 with `--mask none`: one manifest cannot say both.
    run(&files, &out, Rank { rank: 0, world_size: 2 }, None).unwrap();
    let t = TransformConfig { every: 16, mask: rsr_corpus::transform::MaskPolicy::None, ..TransformConfig::default() };
    run_with(&scale_config(&t), &files, &out, Rank { rank: 1, world_size: 2 }, None).unwrap();
    let err = merge_stats(&out).unwrap_err().to_string();
    assert!(err.contains("other settings") && err.contains("done.json"), "{err}");
    run(&files, &out, Rank { rank: 1, world_size: 2 }, None).unwrap();
    let whole = merge_stats(&out).unwrap();
    assert_eq!(whole.counts.parts, Some(files.len() as u64));

    let part = out.join("parts/part-00001.jsonl.zst");
    let good = std::fs::read(&part).unwrap();
    std::fs::write(&part, &good[..good.len() / 2]).unwrap();
    let err = merge_stats(&out).unwrap_err().to_string();
    assert!(err.contains("part-00001.jsonl.zst") && err.contains("changed"), "{err}");
    std::fs::remove_file(&part).unwrap();
    let err = merge_stats(&out).unwrap_err().to_string();
    assert!(err.contains("part-00001.jsonl.zst") && err.contains("gone"), "{err}");
    std::fs::write(&part, &good).unwrap();
    assert!(merge_stats(&out).is_ok());
}
