//! Packing: transform output (text + `masked` / `inserted` byte ranges) →
//! token shards with one loss-mask byte per token.
//!
//! Rules (tested in `tests/pack.rs`):
//! - Special tokens come only from the literal special-token text *inside
//!   `inserted` ranges*; everything else is encoded as ordinary text with
//!   special-token matching off, so data can never forge one.
//! - **Straddling rule:** an ordinary token is masked (0) if *any* byte of it,
//!   by the tokenizer's byte offsets, lies in a masked range. A token half in
//!   unsafe text is never a training target.
//! - Special tokens (reflection markers, tags) and `<|endoftext|>` are always
//!   trainable (1). The mask is never derived from token ids.
//! - Every masked byte range must produce at least one masked token, or the
//!   run stops: a masked span cannot be dropped silently (end of document
//!   included). Unsafe reflections with no masked token at all stop the run
//!   too (the mask was lost), unless the input's transform said `--mask none`;
//!   so does a corpus in which no text token stays trainable.
//! - `<|endoftext|>` follows every document; documents go to `train` or `val`
//!   by a seeded hash of their id, so the split is stable across reruns.
//!
//! Documents are tokenized and masked on every core (rayon, in batches read in
//! order) and written in input order, so the output is byte-identical whatever
//! the thread count.

use crate::shard::{Dtype, Shard};
use crate::tokenizer::{RsrTokenizer, SpecialIds};
use rayon::prelude::*;
use rsr_core::corpus::CorpusDir;
use rsr_core::jsonl::{JsonlReader, JsonlWriter, SoftErrors};
use rsr_core::manifest::{Manifest, Outcome};
use rsr_core::rng::derive_seed;
use rsr_core::{special, Error, Result};
use rsr_corpus::scale::Progress;
use rsr_corpus::transform::TransformedDoc;
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::path::{Path, PathBuf};
use std::time::Instant;

#[derive(Debug, Clone, Serialize)]
pub struct PackConfig {
    /// Close a shard once it holds this many tokens (documents are not split).
    pub shard_tokens: usize,
    /// Fraction of documents that go to the validation split.
    pub val_fraction: f64,
    pub seed: u64,
    /// `None`: the narrowest dtype for the vocabulary.
    pub dtype: Option<Dtype>,
    #[serde(skip)]
    pub strict: bool,
    /// Documents packed in parallel per batch, at most (and at most 64 MB of text): enough to
    /// keep every core busy, little enough to bound memory. The output does not depend on it.
    #[serde(skip)]
    pub batch_docs: usize,
    /// Write `shard_NNNNN.scores.f16` beside each shard: one little-endian f16 per token, the
    /// safety score of the text it came from (the transform's `scores`, `rsr transform
    /// --scores`); 0 for reflections, tags and `<|endoftext|>`. A trainer chooses its threshold
    /// at load time; the split's sha256 of them is in the manifest (`scores_sha256`).
    #[serde(default)]
    pub scores: bool,
}

impl Default for PackConfig {
    fn default() -> Self {
        Self {
            shard_tokens: 1 << 26,
            val_fraction: 0.05,
            seed: 0,
            dtype: None,
            strict: false,
            batch_docs: 4096,
            scores: false,
        }
    }
}

/// The per-token score file beside shard `shard_name` (`shard_00003.bin` →
/// `shard_00003.scores.f16`).
pub fn scores_name(shard_name: &str) -> String {
    format!("{}.scores.f16", shard_name.trim_end_matches(".bin"))
}

/// Tokens and loss mask of one document, `<|endoftext|>` included.
#[derive(Debug, Clone, PartialEq)]
pub struct Packed {
    pub tokens: Vec<u32>,
    pub mask: Vec<u8>,
    /// Per token: the highest score of the document's `scores` ranges its bytes overlap (0 for
    /// special tokens, `<|endoftext|>` and text no range covers).
    pub scores: Vec<f32>,
}

fn check_ranges(doc: &TransformedDoc) -> std::result::Result<(), String> {
    for (name, ranges) in [("masked", &doc.masked), ("inserted", &doc.inserted)] {
        let mut last = 0;
        for r in ranges {
            if r[0] >= r[1] || r[1] > doc.text.len() || r[0] < last {
                return Err(format!(
                    "document `{}`: {name} range {r:?} is empty, unsorted or outside the text",
                    doc.id
                ));
            }
            if !doc.text.is_char_boundary(r[0]) || !doc.text.is_char_boundary(r[1]) {
                return Err(format!("document `{}`: {name} range {r:?} splits a UTF-8 character", doc.id));
            }
            last = r[1];
        }
    }
    // Reflections and tags exist only where the transform inserted them: a special token's text
    // anywhere else (a record whose `inserted` was emptied) would be packed as plain text.
    let mut last = 0;
    for gap in doc.inserted.iter().map(|r| (r[0], r[1])).chain([(doc.text.len(), doc.text.len())]) {
        let outside = &doc.text[last..gap.0];
        if let Some(t) = special::ALL.iter().find(|t| outside.contains(**t)) {
            return Err(format!(
                "document `{}`: `{t}` outside its inserted ranges: reflections and tags must be listed in `inserted`",
                doc.id
            ));
        }
        last = gap.1;
    }
    for &(s, e, x) in &doc.scores {
        if s >= e || e > doc.text.len() || !(0.0..=1.0).contains(&x) {
            return Err(format!(
                "document `{}`: score range [{s}, {e}, {x}] is empty, outside the text, or not a score in [0, 1]",
                doc.id
            ));
        }
    }
    for m in &doc.masked {
        if doc.inserted.iter().any(|i| i[0] < m[1] && m[0] < i[1]) {
            return Err(format!(
                "document `{}`: masked range {m:?} overlaps inserted text; reflections must stay trainable",
                doc.id
            ));
        }
    }
    Ok(())
}

/// Special-token occurrences inside the inserted ranges: (start, end, id).
fn specials_in_inserted(doc: &TransformedDoc, tok: &RsrTokenizer) -> Vec<(usize, usize, u32)> {
    let mut out = Vec::new();
    for r in &doc.inserted {
        let part = &doc.text[r[0]..r[1]];
        let mut pos = 0;
        while let Some(i) = part[pos..].find("<|") {
            let at = pos + i;
            match special::ALL.iter().find(|t| part[at..].starts_with(*t)) {
                Some(t) => {
                    out.push((r[0] + at, r[0] + at + t.len(), tok.special.id_of(t).expect("known special")));
                    pos = at + t.len();
                }
                None => pos = at + 2,
            }
        }
    }
    out
}

/// Pack one document (see the module rules).
pub fn pack_doc(doc: &TransformedDoc, tok: &RsrTokenizer) -> std::result::Result<Packed, String> {
    check_ranges(doc)?;
    let mut tokens = Vec::with_capacity(doc.text.len() / 3 + 4);
    let mut mask = Vec::with_capacity(tokens.capacity());
    let mut scores = Vec::with_capacity(if doc.scores.is_empty() { 0 } else { tokens.capacity() });
    let mut hit = vec![false; doc.masked.len()];
    let mut encode_run = |start: usize,
                          end: usize,
                          tokens: &mut Vec<u32>,
                          mask: &mut Vec<u8>,
                          scores: &mut Vec<f32>|
     -> std::result::Result<(), String> {
        if start == end {
            return Ok(());
        }
        let (ids, offsets) =
            tok.encode_text(&doc.text[start..end]).map_err(|e| format!("document `{}`: {e}", doc.id))?;
        for (id, (s, e)) in ids.into_iter().zip(offsets) {
            let (s, e) = (start + s, start + e.max(s + 1));
            // First masked range that ends after the token starts.
            let k = doc.masked.partition_point(|r| r[1] <= s);
            let masked = k < doc.masked.len() && doc.masked[k][0] < e;
            if masked {
                // Mark every masked range this token touches.
                let mut j = k;
                while j < doc.masked.len() && doc.masked[j][0] < e {
                    hit[j] = true;
                    j += 1;
                }
            }
            tokens.push(id);
            mask.push(!masked as u8);
            if !doc.scores.is_empty() {
                let inside = doc.scores.iter().filter(|r| r.0 < e && s < r.1);
                scores.push(inside.map(|r| r.2).fold(0.0, f32::max));
            }
        }
        Ok(())
    };
    let mut cursor = 0;
    for (s, e, id) in specials_in_inserted(doc, tok) {
        encode_run(cursor, s, &mut tokens, &mut mask, &mut scores)?;
        tokens.push(id);
        mask.push(1);
        if !doc.scores.is_empty() {
            scores.push(0.0);
        }
        cursor = e;
    }
    encode_run(cursor, doc.text.len(), &mut tokens, &mut mask, &mut scores)?;
    if let Some(i) = hit.iter().position(|h| !h) {
        return Err(format!(
            "document `{}`: masked range {:?} produced no masked token — refusing to drop a masked span",
            doc.id, doc.masked[i]
        ));
    }
    tokens.push(tok.special.endoftext);
    mask.push(1);
    // A document without score ranges (empty text) scores 0 everywhere.
    scores.resize(tokens.len(), 0.0);
    Ok(Packed { tokens, mask, scores })
}

/// What `rsr pack` counted — its manifest's `counts`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PackCounts {
    pub splits: Splits,
    /// Malformed records skipped.
    pub records_skipped: u64,
    pub warnings: Vec<String>,
    pub vocab_size: usize,
    pub special_ids: SpecialIds,
    pub added_special_tokens: Vec<String>,
}

impl PackCounts {
    /// The counts of split `name` (`train` or `val`).
    pub fn split(&self, name: &str) -> Option<&SplitCounts> {
        match name {
            "train" => Some(&self.splits.train),
            "val" => Some(&self.splits.val),
            _ => None,
        }
    }

    /// One figure summed over both splits.
    pub fn total(&self, f: fn(&SplitCounts) -> u64) -> u64 {
        f(&self.splits.train) + f(&self.splits.val)
    }
}

/// The train and validation splits' counts.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Splits {
    pub train: SplitCounts,
    pub val: SplitCounts,
}

/// The wall-clock figures of a pack.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct PackTiming {
    pub seconds: f64,
    pub tokens_per_s: f64,
}

/// What [`pack`] did: its counts, its timing, and the manifest written beside the shards.
pub type PackOutcome = Outcome<PackCounts, PackTiming>;

#[derive(Debug, Default, Clone, Serialize, Deserialize)]
pub struct SplitCounts {
    pub docs: u64,
    pub tokens: u64,
    pub masked_tokens: u64,
    pub reflections: u64,
    pub shards: u64,
    pub masked_fraction: f64,
    /// The sha256 of the split's loss mask, one byte per token in shard order: what `rsr train`,
    /// `rsr export` and `rsr inspect` check the shards against (a mask permuted with its count
    /// kept and the shard checksums recomputed is refused). Packs older than it have none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mask_sha256: Option<String>,
    /// With `rsr pack --scores`: the sha256 of the split's `.scores.f16` files, in shard order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scores_sha256: Option<String>,
}

#[derive(Serialize)]
struct IndexEntry<'a> {
    id: &'a str,
    shard: &'a str,
    start: u64,
    tokens: u64,
}

/// Writes one split's shards and index.
struct SplitWriter {
    dir: PathBuf,
    shard: Shard,
    index: JsonlWriter,
    counts: SplitCounts,
    mask: rsr_core::digest::Sha256Stream,
    written: Vec<String>,
    /// With `--scores`: the current shard's per-token scores (f16 bytes) and the split's digest.
    scores: Option<(Vec<u8>, rsr_core::digest::Sha256Stream)>,
}

impl SplitWriter {
    fn new(dir: PathBuf, dtype: Dtype, vocab: u32, scores: bool) -> Result<Self> {
        let index = JsonlWriter::create(dir.join("index.jsonl"))?;
        let (counts, mask) = (SplitCounts::default(), Default::default());
        let scores = scores.then(Default::default);
        Ok(Self { dir, shard: Shard::new(dtype, vocab), index, counts, mask, written: vec![], scores })
    }

    fn shard_name(&self) -> String {
        format!("shard_{:05}.bin", self.written.len())
    }

    fn push(&mut self, id: &str, p: &Packed, reflect_id: u32, shard_tokens: usize) -> Result<()> {
        let name = self.shard_name();
        self.index.write(&IndexEntry {
            id,
            shard: &name,
            start: self.shard.tokens.len() as u64,
            tokens: p.tokens.len() as u64,
        })?;
        self.shard.push_doc(&p.tokens, &p.mask);
        if let Some((buf, _)) = &mut self.scores {
            buf.extend(p.scores.iter().flat_map(|&x| half::f16::from_f32(x).to_le_bytes()));
        }
        self.counts.docs += 1;
        self.counts.tokens += p.tokens.len() as u64;
        self.counts.masked_tokens += p.mask.iter().filter(|&&m| m == 0).count() as u64;
        self.mask.update(&p.mask);
        self.counts.reflections += p.tokens.iter().filter(|&&t| t == reflect_id).count() as u64;
        if self.shard.tokens.len() >= shard_tokens {
            self.flush()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<()> {
        if self.shard.n_docs() == 0 {
            return Ok(());
        }
        let name = self.shard_name();
        self.shard.write(&self.dir.join(&name))?;
        if let Some((buf, digest)) = &mut self.scores {
            rsr_core::atomic::write_all(self.dir.join(scores_name(&name)), buf)?;
            digest.update(buf);
            buf.clear();
        }
        self.written.push(name);
        self.shard = Shard::new(self.shard.dtype, self.shard.vocab_size);
        Ok(())
    }

    fn finish(mut self) -> Result<SplitCounts> {
        self.flush()?;
        self.index.finish()?;
        // Shards left over from an earlier, larger run.
        for e in std::fs::read_dir(&self.dir).map_err(|e| Error::io(&self.dir, e))?.flatten() {
            let name = e.file_name().to_string_lossy().to_string();
            let ours = self.written.iter().any(|w| *w == name || (self.scores.is_some() && scores_name(w) == name));
            if name.starts_with("shard_") && (name.ends_with(".bin") || name.ends_with(".scores.f16")) && !ours {
                std::fs::remove_file(e.path()).map_err(|err| Error::io(e.path(), err))?;
            }
        }
        self.counts.shards = self.written.len() as u64;
        self.counts.mask_sha256 = Some(self.mask.hex());
        self.counts.scores_sha256 = self.scores.map(|(_, d)| d.hex());
        self.counts.masked_fraction =
            if self.counts.tokens == 0 { 0.0 } else { self.counts.masked_tokens as f64 / self.counts.tokens as f64 };
        Ok(self.counts)
    }
}

pub const SPLITS: [&str; 2] = ["train", "val"];

/// Where packed documents go, in input order, and what is counted on the way.
struct Sink {
    writers: [SplitWriter; 2],
    soft: SoftErrors,
    unsafe_reflections: u64,
    /// The transform masked unsafe text (`--mask unsafe`, the default): a record with an unsafe
    /// reflection and nothing masked lost its mask.
    mask_required: bool,
    docs: u64,
    bytes: u64,
}

impl Sink {
    /// Pack `batch` on every core, then write it in order (emptying it).
    fn write_batch(
        &mut self,
        batch: &mut Vec<(TransformedDoc, u64)>,
        file: &Path,
        tok: &RsrTokenizer,
        cfg: &PackConfig,
    ) -> Result<()> {
        let packed: Vec<std::result::Result<Packed, String>> =
            batch.par_iter().map(|(doc, _)| pack_doc(doc, tok)).collect();
        for ((doc, line), packed) in batch.drain(..).zip(packed) {
            let packed = match packed {
                Ok(p) => p,
                Err(message) => {
                    self.soft.check::<()>(Err(Error::Record { path: file.to_path_buf(), line, message }))?;
                    continue;
                }
            };
            if cfg.scores && doc.scores.is_empty() && !doc.text.is_empty() {
                let message = format!("document `{}` has no `scores`: the record lost them on the way here", doc.id);
                self.soft.check::<()>(Err(Error::Record { path: file.to_path_buf(), line, message }))?;
                continue;
            }
            let unsafe_here = doc
                .inserted
                .iter()
                .map(|r| rsr_core::reflection::count_unsafe(&doc.text[r[0]..r[1]]) as u64)
                .sum::<u64>();
            if unsafe_here > 0 && doc.masked.is_empty() && self.mask_required {
                let message = format!(
                    "document `{}`: {unsafe_here} unsafe reflection(s) but nothing masked: the record lost its loss mask",
                    doc.id
                );
                self.soft.check::<()>(Err(Error::Record { path: file.to_path_buf(), line, message }))?;
                continue;
            }
            self.unsafe_reflections += unsafe_here;
            let u = derive_seed(cfg.seed, &doc.id) as f64 / u64::MAX as f64;
            let split = (u < cfg.val_fraction) as usize;
            self.writers[split].push(&doc.id, &packed, tok.special.reflect_open, cfg.shard_tokens)?;
            self.docs += 1;
            self.bytes += doc.text.len() as u64;
        }
        Ok(())
    }
}

/// Text bytes packed in parallel per batch, at most (see [`PackConfig::batch_docs`]).
const BATCH_BYTES: usize = 64 << 20;

/// `rsr pack`: pack the documents of `input` into `out/{train,val}/shard_*.bin`.
///
/// The whole output is built in a staging directory beside `out` and swapped in when
/// complete: a run killed half-way leaves the previous output (or nothing) intact, never
/// new shards beside an old manifest. A scaled-out transform is packed only when every one
/// of its parts is finished.
pub fn pack(
    input: &CorpusDir,
    out: &Path,
    tok: &RsrTokenizer,
    cfg: &PackConfig,
    progress: &mut dyn FnMut(&Progress),
) -> Result<PackOutcome> {
    if !(0.0..1.0).contains(&cfg.val_fraction) {
        return Err(Error::Invalid(format!("--val-fraction must be in [0, 1), got {}", cfg.val_fraction)));
    }
    rsr_core::atomic::check_out_apart(&input.root, out)?;
    if input.root.join("parts").is_dir() {
        rsr_corpus::scale::finished_parts(&input.root)?;
    }
    if cfg.scores {
        let wrote = Manifest::read(&input.root).is_ok_and(|m| m.knobs["transform"]["scores"] == true);
        if !wrote {
            return Err(Error::input(
                &input.root,
                "--scores needs transform output with per-segment scores, and this transform wrote none",
                "re-run `rsr transform` with --scores (rsr, raw, filter or tag)",
            ));
        }
    }
    rsr_core::atomic::build_dir(out, |out| {
        let t0 = Instant::now();
        let files = input.document_files()?;
        let docs_path = if files.len() == 1 { files[0].clone() } else { input.root.join("parts") };
        let vocab = tok.vocab_size();
        let dtype = cfg.dtype.unwrap_or(Dtype::for_vocab(vocab));
        dtype.check(vocab).map_err(|e| Error::input(out, e.to_string(), "re-run `rsr pack` with --dtype u32"))?;
        let mut sink = Sink {
            writers: [
                SplitWriter::new(out.join("train"), dtype, vocab as u32, cfg.scores)?,
                SplitWriter::new(out.join("val"), dtype, vocab as u32, cfg.scores)?,
            ],
            soft: SoftErrors::new(cfg.strict),
            unsafe_reflections: 0,
            mask_required: Manifest::read(&input.root).map_or(true, |m| m.knobs["transform"]["mask"] != "none"),
            docs: 0,
            bytes: 0,
        };
        // Read a batch in order (records and their line numbers), pack it on every core, write
        // it in order: parallel work, serial output.
        let batch_docs = cfg.batch_docs.max(1);
        let mut batch: Vec<(TransformedDoc, u64)> = Vec::with_capacity(batch_docs);
        let mut batch_bytes = 0usize;
        // On-disk sizes, for the progress display's ETA: files done, plus the text read so far of
        // the current file when it is uncompressed.
        let sizes: Vec<u64> = files.iter().map(|f| std::fs::metadata(f).map(|m| m.len()).unwrap_or(0)).collect();
        let mut shown = Progress { files: files.len(), input_bytes: sizes.iter().sum(), ..Progress::default() };
        let mut read_soft = SoftErrors::new(cfg.strict);
        for (i, file) in files.iter().enumerate() {
            let plain = file.extension().is_some_and(|e| e == "jsonl" || e == "json");
            let mut file_text = 0u64;
            let mut reader = JsonlReader::<TransformedDoc>::open(file)?;
            loop {
                let next = reader.next();
                let end = next.is_none();
                if let Some(r) = next {
                    if let Some(doc) = read_soft.check(r)? {
                        batch_bytes += doc.text.len();
                        file_text += doc.text.len() as u64;
                        batch.push((doc, reader.line_number()));
                    }
                }
                if end || batch.len() >= batch_docs || batch_bytes >= BATCH_BYTES {
                    sink.write_batch(&mut batch, file, tok, cfg)?;
                    batch_bytes = 0;
                    if end {
                        shown.files_done = i + 1;
                        shown.input_bytes_done += sizes[i];
                    }
                    let current = if plain && !end { file_text.min(sizes[i]) } else { 0 };
                    progress(&Progress {
                        docs: sink.docs,
                        bytes: sink.bytes,
                        input_bytes_done: shown.input_bytes_done + current,
                        ..shown
                    });
                }
                if end {
                    break;
                }
            }
        }
        let Sink { writers, soft, unsafe_reflections, docs, .. } = sink;
        let soft_count = soft.count + read_soft.count;
        if docs == 0 {
            return Err(Error::input(
                &docs_path,
                format!("no documents to pack ({soft_count} record(s) skipped as malformed)"),
                "pack the output of `rsr transform` (its documents.jsonl or parts/)",
            ));
        }
        let [train, val] = writers;
        let counts = [train.finish()?, val.finish()?];

        // Guards against the failures seen elsewhere.
        let masked: u64 = counts.iter().map(|c| c.masked_tokens).sum();
        let total: u64 = counts.iter().map(|c| c.tokens).sum();
        // `<|endoftext|>` (one per document) is always trainable: count text tokens.
        let trainable_text = total - masked - docs;
        if docs > 0 && trainable_text == 0 {
            return Err(Error::input(
                &docs_path,
                "every text token is masked: the model would learn nothing but document ends",
                "check the transform's masked ranges (was every segment labelled unsafe?) and re-run `rsr transform`",
            ));
        }
        // The transform that wrote the input (its mode and cadence), carried into this manifest so
        // training and decoding can see how the reflections were placed.
        let transform =
            Manifest::read(&input.root).map(|m| m.knobs["transform"].clone()).unwrap_or(serde_json::Value::Null);
        // The mask silently becoming all ones: unsafe reflections with nothing masked, although
        // the transform that wrote them did not say `--mask none`.
        let mut warnings: Vec<String> = Vec::new();
        if unsafe_reflections > 0 && masked == 0 {
            let mask_policy = transform["mask"].as_str().map(str::to_string);
            if mask_policy.as_deref() == Some("none") {
                warnings.push(format!(
                    "{unsafe_reflections} unsafe reflections and no masked token (the transform used --mask none)"
                ));
            } else {
                return Err(Error::input(
                &docs_path,
                format!("{unsafe_reflections} unsafe reflections but not one masked token: the loss mask was lost on the way here"),
                "pack the output of `rsr transform --mask unsafe` unchanged (its documents carry `masked` ranges), or re-run the transform with --mask none if that is intended",
            ));
            }
        }

        tok.save(&out.join("tokenizer.json"))?;
        let [train, val] = counts;
        let secs = t0.elapsed().as_secs_f64();
        let outcome = Outcome::new(
            "pack",
            vec![docs_path.display().to_string()],
            json!({
                "pack": cfg,
                "transform": transform,
                "dtype": dtype,
                "mask_rule": "a token is masked (0) if any of its bytes lies in a masked range; special tokens and <|endoftext|> are always 1",
            }),
            PackCounts {
                splits: Splits { train, val },
                records_skipped: soft_count,
                warnings,
                vocab_size: vocab,
                special_ids: tok.special,
                added_special_tokens: tok.added_specials.clone(),
            },
            PackTiming { seconds: secs, tokens_per_s: total as f64 / secs.max(1e-9) },
        );
        outcome.manifest.write(out)?;
        Ok(outcome)
    })
}

/// What a split's shards hold, as [`check_against_manifest`] compares it with the pack's manifest.
#[derive(Default)]
pub struct MaskTally {
    pub tokens: u64,
    pub masked: u64,
    digest: rsr_core::digest::Sha256Stream,
}

impl MaskTally {
    /// Add a shard's (or a document's) loss mask, in order.
    pub fn add(&mut self, mask: &[u8]) {
        self.tokens += mask.len() as u64;
        self.masked += mask.iter().filter(|&&m| m == 0).count() as u64;
        self.digest.update(mask);
    }
}

/// The transform knobs the pack's manifest records (what `rsr train` copies into every
/// checkpoint's `state.json`, and decoding then obeys), read strictly: a cadence of 0, a safe
/// rate outside [0, 1], an unknown format or a wrong-typed knob is an error naming the field.
/// `null` when the pack records no transform (shards from elsewhere).
pub fn recorded_transform(pack_dir: &Path) -> Result<serde_json::Value> {
    #[derive(Deserialize)]
    struct Knobs {
        mode: Option<String>,
        every: Option<usize>,
        safe_rate: Option<f64>,
        /// Read only to refuse an unknown format.
        #[allow(dead_code)]
        format: Option<rsr_core::reflection::Format>,
    }
    let m: PackOutcome = Outcome::read(pack_dir)?;
    let t = m.manifest.knobs.get("transform").cloned().unwrap_or(serde_json::Value::Null);
    if t.is_null() {
        return Ok(t);
    }
    let path = pack_dir.join("manifest.json");
    let bad =
        |why: String| Error::input(&path, why, "the pack's manifest was edited: re-run `rsr transform` and `rsr pack`");
    let k: Knobs = serde_json::from_value(t.clone()).map_err(|e| bad(format!("knobs.transform: {e}")))?;
    if k.mode.as_deref().is_some_and(str::is_empty) {
        return Err(bad("knobs.transform.mode is empty".into()));
    }
    if k.every == Some(0) {
        return Err(bad("knobs.transform.every is 0: a cadence is at least one token".into()));
    }
    if let Some(r) = k.safe_rate.filter(|r| !(0.0..=1.0).contains(r)) {
        return Err(bad(format!("knobs.transform.safe_rate is {r}, outside [0, 1]")));
    }
    Ok(t)
}

/// Read every shard of `split` in `pack_dir` and [`check_against_manifest`] (what `rsr inspect`
/// does for the split of the shard it shows).
pub fn verify_split(pack_dir: &Path, split: &str) -> Result<()> {
    let mut tally = MaskTally::default();
    for p in crate::export::split_shards(pack_dir, split)? {
        tally.add(&crate::shard::Shard::read(&p)?.mask);
    }
    check_against_manifest(pack_dir, split, tally)
}

/// The shards of `split` must hold the tokens, masked tokens and loss mask the pack's manifest
/// recorded: a mask rewritten after packing (unsafe text made trainable, or masked positions
/// moved with their count kept) stops training and export here even if each shard's checksum
/// was recomputed.
pub fn check_against_manifest(pack_dir: &Path, split: &str, tally: MaskTally) -> Result<()> {
    let m: PackOutcome = Outcome::read(pack_dir)?;
    let c = m.counts.split(split);
    let (tokens, masked) = (tally.tokens, tally.masked);
    let (want_tokens, want_masked) = (c.map(|c| c.tokens), c.map(|c| c.masked_tokens));
    if want_tokens != Some(tokens) || want_masked != Some(masked) {
        return Err(Error::input(
            pack_dir.join(split),
            format!(
                "the shards hold {tokens} tokens, {masked} masked, but the pack's manifest.json says {} tokens, {} masked",
                want_tokens.map_or("?".into(), |t| t.to_string()),
                want_masked.map_or("?".into(), |t| t.to_string())
            ),
            "the shards or the loss mask changed after `rsr pack`: re-run it",
        ));
    }
    if let Some(want) = c.and_then(|c| c.mask_sha256.as_deref()) {
        let got = tally.digest.hex();
        if got != want {
            return Err(Error::input(
                pack_dir.join(split),
                format!("the shards' loss mask has sha256 {got}, but the pack's manifest.json records {want}"),
                "the loss mask changed after `rsr pack` (masked positions moved): re-run it",
            ));
        }
    }
    Ok(())
}
