//! Real corpora at scale: many input files (JSONL, `.jsonl.gz`, `.jsonl.zst`,
//! Parquet; directories and globs), split deterministically over N
//! independent ranks, each file transformed into one output part written
//! atomically and followed by a completion marker with its stats — so a
//! killed run resumes where it stopped, and `merge_stats` sums the markers.
//!
//! ```text
//! OUT/parts/part-00007.jsonl.zst   input file 7 (in sorted input order), transformed
//! OUT/parts/part-00007.done.json   its marker: input path and size, counts, timing
//! OUT/ranks/rank-2-of-8.json       what rank 2 did in its last run
//! OUT/manifest.json                written by `rsr stats merge` once every part is done
//! ```
//!
//! File i belongs to rank `i % world_size`. A part is redone when its marker
//! is missing or names another input or size; the output of a file depends on
//! that file alone (document-level seeds), so a resumed run writes exactly
//! what an uninterrupted one would.

use crate::label::LabelSource;
use crate::pipeline::{transform_stream, Counted, DocSource, Labeler, Pass, Seen};
use crate::segment::TokenCounter;
use crate::transform::{Counts, TransformConfig, TransformCounts};
use rsr_core::atomic::write_all;
use rsr_core::doc::{DocFields, DocReader};
use rsr_core::jsonl::JsonlWriter;
use rsr_core::manifest::Outcome;
use rsr_core::{Error, Result};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Extensions read as documents.
const INPUT_SUFFIXES: [&str; 5] = [".jsonl", ".jsonl.gz", ".jsonl.zst", ".parquet", ".json.gz"];

fn is_input(p: &Path) -> bool {
    let n = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
    INPUT_SUFFIXES.iter().any(|s| n.ends_with(s))
}

/// The input files named by `inputs` — files, directories (searched
/// recursively for known extensions) and glob patterns — sorted and
/// deduplicated, so every rank sees the same list.
pub fn input_files(inputs: &[String]) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for pat in inputs {
        let p = Path::new(pat);
        if p.is_file() {
            out.push(p.to_path_buf());
        } else if p.is_dir() {
            walk(p, &mut out)?;
        } else if pat.contains(['*', '?', '[']) {
            let paths = glob::glob(pat).map_err(|e| Error::input(pat, e.to_string(), "fix the glob pattern"))?;
            let before = out.len();
            for entry in paths {
                let path = entry.map_err(|e| Error::io(e.path().to_path_buf(), e.into()))?;
                if path.is_file() {
                    out.push(path);
                }
            }
            if out.len() == before {
                return Err(Error::input(
                    pat,
                    "the pattern matches no file",
                    "check the pattern (quote it so the shell leaves it alone)",
                ));
            }
        } else {
            return Err(Error::input(pat, "no such file or directory", "pass files, directories or glob patterns"));
        }
    }
    out.sort();
    out.dedup();
    if out.is_empty() {
        return Err(Error::Invalid(format!(
            "no input files in {} (looked for {})",
            inputs.join(", "),
            INPUT_SUFFIXES.join(", ")
        )));
    }
    Ok(out)
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    let mut entries: Vec<PathBuf> =
        std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))?.flatten().map(|e| e.path()).collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            walk(&p, out)?;
        } else if is_input(&p) {
            out.push(p);
        }
    }
    Ok(())
}

/// This process's place among the ranks.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Rank {
    pub rank: usize,
    pub world_size: usize,
}

impl Rank {
    /// From the flags, else from the scheduler's environment: Slurm job arrays
    /// (`SLURM_ARRAY_TASK_ID` − `SLURM_ARRAY_TASK_MIN`, `SLURM_ARRAY_TASK_COUNT`),
    /// Kubernetes Indexed Jobs (`JOB_COMPLETION_INDEX`, with the world size from
    /// the flag or `RSR_WORLD_SIZE`), torchrun-style `RANK`/`WORLD_SIZE`; else 0 of 1.
    pub fn resolve(rank: Option<usize>, world_size: Option<usize>) -> Result<(Rank, &'static str)> {
        let env = |k: &str| -> Result<Option<usize>> {
            match std::env::var(k) {
                Ok(v) => v
                    .trim()
                    .parse()
                    .map(Some)
                    .map_err(|_| Error::Invalid(format!("environment variable {k}={v:?} is not a whole number"))),
                Err(_) => Ok(None),
            }
        };
        let (r, w, from) = if let (Some(r), Some(w)) = (rank, world_size) {
            (r, w, "flags")
        } else if let (Some(id), Some(n)) = (env("SLURM_ARRAY_TASK_ID")?, env("SLURM_ARRAY_TASK_COUNT")?) {
            (id - env("SLURM_ARRAY_TASK_MIN")?.unwrap_or(0), n, "slurm")
        } else if let Some(i) = env("JOB_COMPLETION_INDEX")? {
            let w = world_size.or(env("RSR_WORLD_SIZE")?).ok_or_else(|| {
                Error::Invalid("JOB_COMPLETION_INDEX is set but not the number of ranks: pass --world-size (the Job's completions)".into())
            })?;
            (i, w, "kubernetes")
        } else if let (Some(r), Some(w)) = (env("RANK")?, env("WORLD_SIZE")?) {
            (r, w, "RANK/WORLD_SIZE")
        } else if rank.is_some() || world_size.is_some() {
            return Err(Error::Invalid("pass both --rank and --world-size".into()));
        } else {
            (0, 1, "single")
        };
        if w == 0 || r >= w {
            return Err(Error::Invalid(format!("rank {r} is not below world size {w} (from {from})")));
        }
        Ok((Rank { rank: r, world_size: w }, from))
    }

    /// Indices of `n` files that belong to this rank.
    pub fn files(&self, n: usize) -> impl Iterator<Item = usize> + '_ {
        (self.rank..n).step_by(self.world_size)
    }
}

/// Settings of a scaled-out transform.
pub struct ScaleConfig<'a> {
    pub transform: &'a TransformConfig,
    /// Where the verdicts come from: a field, an annotator, or none (raw); annotation files
    /// belong to corpus directories ([`crate::run::transform`]).
    pub labels: LabelSource<'a>,
    pub fields: DocFields,
    pub counter: &'a dyn TokenCounter,
    /// Documents longer than this (bytes) are skipped and recorded, never cut.
    pub max_doc_bytes: usize,
    pub strict: bool,
    /// Write parts as `.jsonl.zst` (else `.jsonl`).
    pub compress: bool,
}

/// A part's completion marker.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Marker {
    pub input: PathBuf,
    pub input_bytes: u64,
    pub part: PathBuf,
    pub files_total: usize,
    pub counts: Counts,
    pub records_skipped: u64,
    pub docs_over_cap: u64,
    pub bytes_in: u64,
    pub seconds: f64,
    pub knobs: Value,
    /// The sha256 of the part file as written: a part changed, truncated or deleted after its
    /// marker is refused by merge and pack.
    #[serde(default)]
    pub part_sha256: Option<String>,
}

/// Part `i` of a scaled-out run in `out` and its completion marker.
pub fn part_paths(out: &Path, i: usize, compress: bool) -> (PathBuf, PathBuf) {
    let dir = out.join("parts");
    let ext = if compress { "jsonl.zst" } else { "jsonl" };
    (dir.join(format!("part-{i:05}.{ext}")), dir.join(format!("part-{i:05}.done.json")))
}

fn read_marker(path: &Path) -> Option<Marker> {
    serde_json::from_slice(&std::fs::read(path).ok()?).ok()
}

/// Documents of one input file, JSONL or Parquet, with the line or row of each.
pub fn documents(path: &Path, fields: &DocFields) -> Result<Box<dyn DocSource>> {
    let stem = path.file_name().and_then(|n| n.to_str()).unwrap_or("input").to_string();
    let mut fields = fields.clone();
    if fields.generate_ids.is_none() {
        fields.generate_ids = Some(stem);
    }
    if path.extension().is_some_and(|e| e == "parquet") {
        return Ok(Box::new(Counted::new(crate::parquet::documents(path, &fields)?)));
    }
    Ok(Box::new(DocReader::open(path, fields)?))
}

/// Where a rank is, for progress displays: documents and text bytes read this
/// run, and this rank's input files (on-disk bytes) done and in all, from
/// which an ETA follows.
#[derive(Debug, Clone, Copy, Default)]
pub struct Progress {
    pub docs: u64,
    pub bytes: u64,
    pub files_done: usize,
    pub files: usize,
    pub input_bytes_done: u64,
    pub input_bytes: u64,
}

/// What one rank did.
#[derive(Debug, Clone, Serialize)]
pub struct RankReport {
    pub rank: Rank,
    pub files: usize,
    pub done_before: usize,
    pub transformed: usize,
    pub counts: Counts,
    pub bytes_in: u64,
    pub seconds: f64,
    /// The first documents of each file skipped for --max-doc-bytes: (file, id).
    pub over_cap: Vec<(PathBuf, String)>,
}

/// Transform this rank's share of `files` into `out/parts/`, skipping parts
/// whose marker says they are done. `progress` is called after every document.
pub fn transform_files(
    files: &[PathBuf],
    out: &Path,
    cfg: &ScaleConfig,
    rank: Rank,
    progress: &mut dyn FnMut(&Progress),
) -> Result<RankReport> {
    cfg.transform.validate().map_err(Error::Invalid)?;
    for f in files {
        rsr_core::atomic::check_out_apart(f, out)?;
    }
    let raw = cfg.transform.mode == crate::transform::Mode::Raw;
    // Field, annotator or none: stateless, so one labeler serves every file.
    let mut labeler = Labeler::for_file(cfg.labels, raw)?;
    let t0 = Instant::now();
    let knobs = json!({
        "transform": cfg.transform, "labels": labeler.describe(), "token_counter": cfg.counter.name(),
        "max_doc_bytes": cfg.max_doc_bytes, "compress": cfg.compress,
    });
    let mut report = RankReport {
        rank,
        files: 0,
        done_before: 0,
        transformed: 0,
        counts: Counts::default(),
        bytes_in: 0,
        seconds: 0.0,
        over_cap: vec![],
    };
    let mine: Vec<usize> = rank.files(files.len()).collect();
    let mut p = Progress { files: mine.len(), ..Progress::default() };
    for &i in &mine {
        p.input_bytes += std::fs::metadata(&files[i]).map_err(|e| Error::io(&files[i], e))?.len();
    }
    let pass = Pass { transform: cfg.transform, counter: cfg.counter, max_doc_bytes: cfg.max_doc_bytes };
    for i in mine {
        report.files += 1;
        let input = &files[i];
        let input_bytes = std::fs::metadata(input).map_err(|e| Error::io(input, e))?.len();
        let (part, marker_path) = part_paths(out, i, cfg.compress);
        if let Some(m) = read_marker(&marker_path) {
            if m.input == *input && m.input_bytes == input_bytes && m.knobs == knobs && part.is_file() {
                report.done_before += 1;
                report.counts.add(&m.counts);
                report.bytes_in += m.bytes_in;
                // Finished earlier: out of the ETA's reckoning, which is about this run's speed.
                p.files_done += 1;
                p.input_bytes -= input_bytes;
                progress(&p);
                continue;
            }
        }
        let ts = Instant::now();
        let mut seen = Seen::new(cfg.strict);
        let mut w = JsonlWriter::create(&part)?;
        let (docs0, bytes0) = (p.docs, p.bytes);
        transform_stream(
            &pass,
            &mut *documents(input, &cfg.fields)?,
            input,
            &mut labeler,
            &mut seen,
            &mut |d| w.write(d),
            &mut |docs, bytes| {
                p.docs = docs0 + docs;
                p.bytes = bytes0 + bytes;
                progress(&p);
            },
        )?;
        w.finish()?;
        // A rerun that switched --zstd leaves one version of the part.
        let (other, _) = part_paths(out, i, !cfg.compress);
        let _ = std::fs::remove_file(other);
        report.over_cap.extend(seen.over_cap_ids.iter().map(|id| (input.clone(), id.clone())));
        let marker = Marker {
            input: input.clone(),
            input_bytes,
            part: part.clone(),
            files_total: files.len(),
            counts: seen.counts.clone(),
            records_skipped: seen.soft.count,
            docs_over_cap: seen.docs_over_cap,
            bytes_in: seen.bytes_in,
            seconds: ts.elapsed().as_secs_f64(),
            knobs: knobs.clone(),
            part_sha256: Some(rsr_core::digest::sha256_file(&part)?),
        };
        // The marker last: its presence means the part is complete.
        write_all(&marker_path, serde_json::to_string_pretty(&marker).unwrap().as_bytes())?;
        report.transformed += 1;
        report.counts.add(&seen.counts);
        report.bytes_in += seen.bytes_in;
        p.files_done += 1;
        p.input_bytes_done += input_bytes;
        progress(&p);
    }
    report.seconds = t0.elapsed().as_secs_f64();
    write_all(
        out.join("ranks").join(format!("rank-{}-of-{}.json", rank.rank, rank.world_size)),
        serde_json::to_string_pretty(&report).unwrap().as_bytes(),
    )?;
    Ok(report)
}

/// `rsr stats merge`: sum every part's marker into `out/manifest.json`.
/// Fails, naming what is missing, unless every input file has its part.
/// The completion markers of a scaled-out run in `out`, or an error naming the parts that
/// are missing: a run is usable (merged, packed) only when every input file's part is done.
pub fn finished_parts(out: &Path) -> Result<Vec<Marker>> {
    let dir = out.join("parts");
    let mut markers: Vec<Marker> = Vec::new();
    let entries = std::fs::read_dir(&dir).map_err(|e| Error::io(&dir, e))?;
    let mut names: Vec<PathBuf> =
        entries.flatten().map(|e| e.path()).filter(|p| p.to_string_lossy().ends_with(".done.json")).collect();
    names.sort();
    for p in &names {
        let m = read_marker(p)
            .ok_or_else(|| Error::input(p, "unreadable completion marker", "delete it and rerun that rank"))?;
        markers.push(m);
    }
    let Some(i_first) = markers.iter().position(|m| m.counts.docs_in > 0).or((!markers.is_empty()).then_some(0)) else {
        return Err(Error::input(&dir, "no completed parts", "run `rsr transform` over the inputs first"));
    };
    let first = &markers[i_first];
    // One run, one configuration: ranks run with other flags would mix two corpora under one
    // manifest (an empty part holds no corpus to mix: a pipeline rank that read nothing may not
    // know the run's settings). And each part is what its marker sealed.
    for (m, p) in markers.iter().zip(&names) {
        if m.knobs != first.knobs && m.counts.docs_in > 0 {
            return Err(Error::input(
                p,
                format!(
                    "this part was made with other settings than {} ({} against {})",
                    names[i_first].display(),
                    m.knobs,
                    first.knobs
                ),
                "rerun every rank with the same flags (delete the parts made with the others)",
            ));
        }
        let redo = "delete the part and its marker, and rerun that rank";
        let Some(want) = &m.part_sha256 else {
            return Err(Error::input(p, "the marker records no digest of its part (an older rsr)", redo));
        };
        if !m.part.is_file() {
            return Err(Error::input(&m.part, "the part is gone but its marker says it is done", redo));
        }
        if rsr_core::digest::sha256_file(&m.part)? != *want {
            return Err(Error::input(&m.part, "the part changed since its marker was written (sha256 differs)", redo));
        }
    }
    let total = first.files_total;
    if markers.len() != total {
        let have: std::collections::BTreeSet<String> =
            names.iter().filter_map(|p| p.file_name()?.to_str()?.get(5..10).map(str::to_string)).collect();
        let missing: Vec<String> =
            (0..total).map(|i| format!("{i:05}")).filter(|i| !have.contains(i)).take(5).collect();
        return Err(Error::input(
            &dir,
            format!("{} of {total} parts are done; missing e.g. part {}", markers.len(), missing.join(", ")),
            "rerun the ranks that have not finished (finished parts are skipped)",
        ));
    }
    Ok(markers)
}

pub fn merge_stats(out: &Path) -> Result<Outcome<TransformCounts, MergedTiming>> {
    let markers = finished_parts(out)?;
    let mut counts = Counts::default();
    let (mut skipped, mut over_cap, mut bytes_in, mut seconds) = (0u64, 0u64, 0u64, 0f64);
    for m in &markers {
        counts.add(&m.counts);
        skipped += m.records_skipped;
        over_cap += m.docs_over_cap;
        bytes_in += m.bytes_in;
        seconds += m.seconds;
    }
    let counts = TransformCounts {
        records_skipped: skipped,
        docs_over_cap: over_cap,
        bytes_in,
        parts: Some(markers.len() as u64),
        ..TransformCounts::new(counts)
    };
    let timing =
        MergedTiming { part_seconds_total: seconds, mb_per_s_per_part: bytes_in as f64 / 1e6 / seconds.max(1e-9) };
    let outcome = Outcome::new(
        "transform",
        markers.iter().map(|m| m.input.display().to_string()).collect(),
        markers.iter().find(|m| m.counts.docs_in > 0).unwrap_or(&markers[0]).knobs.clone(),
        counts,
        timing,
    );
    outcome.manifest.write(out)?;
    Ok(outcome)
}

/// The wall-clock figures of a scaled-out run, summed over its parts.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct MergedTiming {
    pub part_seconds_total: f64,
    pub mb_per_s_per_part: f64,
}
