//! `rsr._rsr`: the Python extension module under the `rsr` package (python/rsr/).
//!
//! Every function here calls the same library code as the `rsr` command: the transforms, the
//! annotators, SafetyWorld and its judge, packing, exports and the shard reader. Nothing is
//! reimplemented. Two conventions keep the surface small:
//! - **offsets are characters** (Python `str` indices) on this side of the boundary; the library
//!   works in UTF-8 bytes, and [`Text`] converts both ways;
//! - **structured results travel as JSON strings**, which the Python layer (`rsr/__init__.py`)
//!   turns into dicts: the field names are exactly those of the files the CLI writes.
//!
//! Errors are `rsr.RsrError` carrying the CLI's message (file, line or field, and a hint).

use pyo3::create_exception;
use pyo3::exceptions::PyException;
use pyo3::prelude::*;
use rsr_core::annotation::Span;
use rsr_core::doc::Document;
use rsr_corpus::annotator::SentenceAnnotator;
use rsr_corpus::segment::{TokenCounter, Whitespace};
use rsr_corpus::transform::{transform_doc, Counts, TransformConfig, TransformedDoc};
use rsr_pack::tokenizer::RsrTokenizer;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};

create_exception!(
    _rsr,
    RsrError,
    PyException,
    "An rsr error. The message is the command line's: it names the file, line or field and says what to do."
);

fn err(e: impl std::fmt::Display) -> PyErr {
    RsrError::new_err(e.to_string())
}

fn to_json<T: serde::Serialize>(v: &T) -> PyResult<String> {
    serde_json::to_string(v).map_err(err)
}

/// `defaults` with the fields named in `changes_json` replaced; a name it does not have is an
/// error listing the ones it does (`what`: how to call a field in that message).
fn overlay<T: serde::Serialize + serde::de::DeserializeOwned>(
    defaults: T,
    changes_json: &str,
    what: &str,
) -> PyResult<T> {
    let mut v = serde_json::to_value(defaults).map_err(err)?;
    let changes: serde_json::Map<String, Value> = serde_json::from_str(changes_json).map_err(err)?;
    for (k, x) in changes {
        let Some(slot) = v.get_mut(&k) else {
            let known: Vec<&String> = v.as_object().map(|o| o.keys().collect()).unwrap_or_default();
            return Err(err(format!("unknown {what} `{k}` (known: {known:?})")));
        };
        *slot = x;
    }
    serde_json::from_value(v).map_err(|e| err(format!("{what}s: {e}")))
}

/// A text's character ↔ byte offsets (identity for ASCII).
struct Text<'a> {
    text: &'a str,
    /// Byte offset of every character, and the text's length last; empty when ASCII.
    starts: Vec<usize>,
}

impl<'a> Text<'a> {
    fn new(text: &'a str) -> Self {
        let starts = if text.is_ascii() {
            vec![]
        } else {
            text.char_indices().map(|(b, _)| b).chain(std::iter::once(text.len())).collect()
        };
        Self { text, starts }
    }

    fn chars(&self) -> usize {
        if self.starts.is_empty() {
            self.text.len()
        } else {
            self.starts.len() - 1
        }
    }

    /// The byte offset of character `c`; an error past the end.
    fn byte(&self, c: usize, what: &str) -> PyResult<usize> {
        if c > self.chars() {
            return Err(err(format!("{what} {c} is past the end of the text ({} characters)", self.chars())));
        }
        Ok(if self.starts.is_empty() { c } else { self.starts[c] })
    }

    /// The character offset of byte `b` (a character boundary: the library only cuts there).
    fn char(&self, b: usize) -> usize {
        if self.starts.is_empty() {
            b
        } else {
            self.starts.partition_point(|&s| s < b)
        }
    }

    fn chars_of(&self, ranges: &[[usize; 2]]) -> Vec<[usize; 2]> {
        ranges.iter().map(|[s, e]| [self.char(*s), self.char(*e)]).collect()
    }
}

/// Annotation spans given in characters (dicts as `annotations/*.jsonl` holds them) → bytes.
fn spans_from_json(text: &Text, spans_json: &str) -> PyResult<Vec<Span>> {
    let mut spans: Vec<Span> = serde_json::from_str(spans_json)
        .map_err(|e| err(format!("spans: {e} (each span is {{start, end, label: safe|unsafe, category?, score?}})")))?;
    for s in &mut spans {
        s.start = text.byte(s.start, "span start")?;
        s.end = text.byte(s.end, "span end")?;
        s.validate(text.text).map_err(err)?;
    }
    Ok(spans)
}

fn spans_to_json(text: &Text, spans: &[Span]) -> PyResult<String> {
    let spans: Vec<Span> =
        spans.iter().map(|s| Span { start: text.char(s.start), end: text.char(s.end), ..s.clone() }).collect();
    to_json(&spans)
}

/// What counts tokens for the cadence: whitespace words, or a tokenizer's exact count.
enum Counter {
    Whitespace,
    Tokenizer(Box<RsrTokenizer>),
}

impl Counter {
    fn open(tokenizer: Option<PathBuf>) -> PyResult<Self> {
        Ok(match tokenizer {
            None => Counter::Whitespace,
            Some(p) => Counter::Tokenizer(Box::new(RsrTokenizer::load(&p).map_err(err)?)),
        })
    }
    fn get(&self) -> &dyn TokenCounter {
        match self {
            Counter::Whitespace => &Whitespace,
            Counter::Tokenizer(t) => &**t,
        }
    }
}

/// Sentence-aligned segments of `text` closing at the first sentence end past `every` tokens
/// (hard cap `2 * every`), as character ranges.
#[pyfunction]
#[pyo3(signature = (text, every, tokenizer=None))]
fn segments(text: &str, every: usize, tokenizer: Option<PathBuf>) -> PyResult<Vec<(usize, usize)>> {
    if every == 0 {
        return Err(err("every must be at least 1 token"));
    }
    let counter = Counter::open(tokenizer)?;
    let t = Text::new(text);
    Ok(rsr_corpus::segment::segments(text, every, counter.get())
        .into_iter()
        .map(|r| (t.char(r.start), t.char(r.end)))
        .collect())
}

/// One of the transforms (`rsr`, `raw`, `filter`, `rewrite`, `refuse`, `tag`) with its knobs;
/// counts accumulate over every document it is applied to.
#[pyclass(module = "rsr._rsr")]
struct Transform {
    cfg: TransformConfig,
    counter: Counter,
    counts: Counts,
}

#[pymethods]
impl Transform {
    /// `knobs_json`: the knobs to change from the defaults, named as in a transform manifest.
    #[new]
    #[pyo3(signature = (knobs_json, tokenizer=None))]
    fn new(knobs_json: &str, tokenizer: Option<PathBuf>) -> PyResult<Self> {
        let cfg: TransformConfig = overlay(TransformConfig::default(), knobs_json, "transform knob")?;
        cfg.validate().map_err(err)?;
        Ok(Self { cfg, counter: Counter::open(tokenizer)?, counts: Counts::default() })
    }

    /// Transform one document. Returns JSON `{id, text, masked, inserted, rsr_counts,
    /// rsr_bytes_in}` (character ranges; the document's own counts, which [`PartWriter`] sums),
    /// or `None` when the transform drops it (`filter`).
    fn apply(&mut self, id: &str, text: &str, spans_json: &str) -> PyResult<Option<String>> {
        // A literal special token in input text is neutralised, as when the CLI reads a corpus.
        let text = rsr_core::special::neutralise(text).unwrap_or_else(|| text.to_string());
        let spans = spans_from_json(&Text::new(&text), spans_json)?;
        let bytes_in = text.len();
        let doc = Document { id: id.to_string(), text, meta: Default::default() };
        let mut counts = Counts::default();
        let out = transform_doc(&self.cfg, doc, &spans, self.counter.get(), &mut counts);
        self.counts.add(&counts);
        let Some(out) = out else { return Ok(None) };
        let t = Text::new(&out.text);
        let v = json!({
            "id": out.id,
            "text": out.text,
            "masked": t.chars_of(&out.masked),
            "inserted": t.chars_of(&out.inserted),
            "scores": out.scores.iter().map(|&(a, b, x)| json!([t.char(a), t.char(b), x])).collect::<Vec<_>>(),
            "rsr_counts": counts,
            "rsr_bytes_in": bytes_in,
        });
        Ok(Some(v.to_string()))
    }

    /// The knobs, as the manifest records them (JSON).
    fn config_json(&self) -> PyResult<String> {
        to_json(&self.cfg)
    }

    /// What the transform counted so far (JSON, the manifest's `counts` fields).
    fn counts_json(&self) -> PyResult<String> {
        to_json(&rsr_corpus::transform::TransformCounts::new(self.counts.clone()))
    }

    /// The token counter's name, as manifests record it.
    fn counter_name(&self) -> &'static str {
        self.counter.get().name()
    }
}

/// An annotator: a classifier file (`hashed` or `minilm`) or a Llama Guard-style judge on an
/// OpenAI-compatible endpoint, applied sentence by sentence.
#[pyclass(module = "rsr._rsr")]
struct Annotator {
    inner: Box<dyn rsr_corpus::annotator::Annotator + Send>,
}

fn fallback(category: &str) -> PyResult<rsr_core::taxonomy::Category> {
    category.parse().map_err(err)
}

#[pymethods]
impl Annotator {
    #[staticmethod]
    #[pyo3(signature = (path, threshold=0.5, fallback_category="violent-crimes", minilm_dir=None))]
    fn classifier(
        path: PathBuf,
        threshold: f32,
        fallback_category: &str,
        minilm_dir: Option<PathBuf>,
    ) -> PyResult<Self> {
        rsr_corpus::annotator::check_threshold(threshold).map_err(err)?;
        let scorer = rsr_embed::annotator::load_scorer(&path, minilm_dir.as_deref()).map_err(err)?;
        let a = SentenceAnnotator { scorer, threshold, fallback: fallback(fallback_category)? };
        Ok(Self { inner: Box::new(a) })
    }

    #[staticmethod]
    #[pyo3(signature = (url, model="llama-guard", requests_per_s=0.0, fallback_category="violent-crimes", timeout_s=120.0))]
    fn endpoint(
        url: &str,
        model: &str,
        requests_per_s: f64,
        fallback_category: &str,
        timeout_s: f64,
    ) -> PyResult<Self> {
        let client =
            rsr_remote::ChatClient::new(url, None, requests_per_s, std::time::Duration::from_secs_f64(timeout_s))
                .map_err(err)?;
        let guard =
            rsr_remote::guard::Guard { client, model: model.to_string(), fallback: fallback(fallback_category)? };
        Ok(Self { inner: Box::new(guard.annotator()) })
    }

    /// Per-sentence spans of `text` (JSON list, character offsets).
    fn annotate(&self, py: Python<'_>, text: &str) -> PyResult<String> {
        let spans = py.detach(|| self.inner.annotate(text)).map_err(err)?;
        spans_to_json(&Text::new(text), &spans)
    }

    /// What a manifest records about this annotator (JSON).
    fn describe_json(&self) -> String {
        self.inner.describe().to_string()
    }
}

/// Write SafetyWorld `seed` into `out` (as `rsr gym`); `config_json` changes `WorldConfig`
/// fields from their defaults. Returns the manifest's counts (JSON).
#[pyfunction]
#[pyo3(signature = (out, seed=0, config_json="{}"))]
fn generate_world(py: Python<'_>, out: PathBuf, seed: u64, config_json: &str) -> PyResult<String> {
    let cfg = overlay(rsr_world::WorldConfig::default(), config_json, "WorldConfig field")?;
    cfg.validate().map_err(err)?;
    let outcome = py.detach(|| rsr_world::write::write_world(&out, seed, cfg, false, &mut |_, _| {})).map_err(err)?;
    to_json(&outcome.counts)
}

/// A SafetyWorld directory: its world (`world.json`) and the oracle judge.
#[pyclass(module = "rsr._rsr")]
struct World {
    judge: rsr_world::judge::Judge,
    dir: PathBuf,
}

#[pymethods]
impl World {
    #[new]
    fn new(dir: PathBuf) -> PyResult<Self> {
        let path = rsr_core::corpus::CorpusDir::new(&dir).world();
        let bytes = std::fs::read(&path).map_err(|e| err(rsr_core::Error::io(&path, e)))?;
        let world: rsr_world::World = serde_json::from_slice(&bytes).map_err(|e| {
            err(rsr_core::Error::input(&path, e.to_string(), "pass the directory `rsr gym --out` wrote"))
        })?;
        Ok(Self { judge: rsr_world::judge::Judge::for_world(&world), dir })
    }

    /// The oracle's verdict on `response` to `prompt` (a prompt record as JSON). Returns JSON
    /// `{delivered_harm, refused, benign_correct, steps_matched, steps_required}`.
    fn judge(&self, prompt_json: &str, response: &str) -> PyResult<String> {
        let rec: rsr_world::prompts::PromptRecord =
            serde_json::from_str(prompt_json).map_err(|e| err(format!("prompt record: {e}")))?;
        to_json(&self.judge.judge(&rec, response))
    }

    /// The directory it was read from.
    #[getter]
    fn dir(&self) -> PathBuf {
        self.dir.clone()
    }
}

/// The prompt-set table: `[{name, role, description…}]` (JSON).
#[pyfunction]
fn prompt_sets() -> PyResult<String> {
    let rows: Vec<Value> = rsr_world::prompts::PROMPT_SETS
        .iter()
        .map(|s| json!({"name": s.name, "role": s.role.label(), "harmful": s.role.is_harmful()}))
        .collect();
    to_json(&rows)
}

/// Pack a transformed corpus (a directory with `documents.jsonl` or finished `parts/`) into
/// shards, as `rsr pack`. Returns the pack manifest (JSON).
#[pyfunction]
#[pyo3(signature = (input, tokenizer, out, val_fraction=0.05, seed=0, shard_tokens=1<<26))]
fn pack(
    py: Python<'_>,
    input: PathBuf,
    tokenizer: PathBuf,
    out: PathBuf,
    val_fraction: f64,
    seed: u64,
    shard_tokens: usize,
) -> PyResult<String> {
    let tok = RsrTokenizer::load(&tokenizer).map_err(err)?;
    let cfg = rsr_pack::pack::PackConfig { val_fraction, seed, shard_tokens, ..Default::default() };
    let input = rsr_core::corpus::CorpusDir::new(&input);
    py.detach(|| rsr_pack::pack::pack(&input, &out, &tok, &cfg, &mut |_| {})).map_err(err)?;
    manifest_json(&out)
}

fn manifest_json(dir: &Path) -> PyResult<String> {
    let p = dir.join("manifest.json");
    std::fs::read_to_string(&p).map_err(|e| err(rsr_core::Error::io(&p, e)))
}

/// Export a pack to `megatron`, `olmo` or `llmc` files, as `rsr export`; returns the paths.
#[pyfunction]
fn export(py: Python<'_>, pack_dir: PathBuf, format: &str, out: PathBuf) -> PyResult<Vec<PathBuf>> {
    let f = rsr_pack::export::Format::ALL
        .into_iter()
        .find(|f| f.name() == format)
        .ok_or_else(|| err(format!("unknown export format `{format}` (megatron, olmo, llmc)")))?;
    py.detach(|| rsr_pack::export::export(&pack_dir, &out, f)).map_err(err)
}

/// One shard, checked (magic, checksum, sizes, ids): `(tokens as little-endian u32 bytes,
/// mask bytes (1 = trained), document offsets)`. The Python layer makes numpy arrays of them.
#[pyfunction]
fn read_shard(path: PathBuf) -> PyResult<(Vec<u8>, Vec<u8>, Vec<u64>)> {
    let s = rsr_pack::shard::Shard::read(&path).map_err(err)?;
    let tokens = s.tokens.iter().flat_map(|t| t.to_le_bytes()).collect();
    Ok((tokens, s.mask, s.doc_offsets))
}

/// Check a pack split's shards against the mask digest its manifest records (as `rsr train`
/// does before training): an error if any shard or mask changed.
#[pyfunction]
fn verify_split(pack_dir: PathBuf, split: &str) -> PyResult<()> {
    rsr_pack::pack::verify_split(&pack_dir, split).map_err(err)
}

/// A tokenizer's special-token ids (JSON `{endoftext, reflect_open, reflect_close, safe, unsafe_}`).
#[pyfunction]
fn special_ids(tokenizer: PathBuf) -> PyResult<String> {
    to_json(&RsrTokenizer::load(&tokenizer).map_err(err)?.special)
}

/// Writes one part of a scaled-out transform (`OUT/parts/part-NNNNN.jsonl` and its completion
/// marker, the layout `rsr transform --rank` writes), for pipelines that transform documents
/// themselves (the datatrove writer). `rsr pack` and `rsr stats merge` read it like any part.
#[pyclass(module = "rsr._rsr")]
struct PartWriter {
    writer: Option<rsr_core::jsonl::JsonlWriter>,
    out: PathBuf,
    index: usize,
    files_total: usize,
    source: String,
    knobs: Value,
    counts: Counts,
    bytes_in: u64,
    t0: std::time::Instant,
}

#[pymethods]
impl PartWriter {
    /// `index` of `files_total` parts; `source` names what was read (recorded as the input);
    /// `knobs_json` the transform settings every part of the run must share.
    #[new]
    fn new(out: PathBuf, index: usize, files_total: usize, source: String, knobs_json: &str) -> PyResult<Self> {
        if index >= files_total {
            return Err(err(format!("part {index} of {files_total}: the index must be below the total")));
        }
        let knobs: Value = serde_json::from_str(knobs_json).map_err(err)?;
        let (part, _) = rsr_corpus::scale::part_paths(&out, index, false);
        let writer = rsr_core::jsonl::JsonlWriter::create(&part).map_err(err)?;
        Ok(Self {
            writer: Some(writer),
            out,
            index,
            files_total,
            source,
            knobs,
            counts: Counts::default(),
            bytes_in: 0,
            t0: std::time::Instant::now(),
        })
    }

    /// Append a transformed document (JSON `{id, text, masked, inserted, ...}`, character
    /// ranges) and add its transform counts (JSON, as `Transform.counts_json` deltas).
    fn write(&mut self, doc_json: &str) -> PyResult<()> {
        let mut v: serde_json::Map<String, Value> = serde_json::from_str(doc_json).map_err(err)?;
        let text = v.get("text").and_then(Value::as_str).ok_or_else(|| err("document has no `text`"))?.to_string();
        let t = Text::new(&text);
        for key in ["masked", "inserted"] {
            let ranges: Vec<[usize; 2]> = match v.get(key) {
                Some(r) => serde_json::from_value(r.clone()).map_err(|e| err(format!("`{key}`: {e}")))?,
                None => vec![],
            };
            let mut bytes = Vec::with_capacity(ranges.len());
            for [s, e] in ranges {
                bytes.push([t.byte(s, key)?, t.byte(e, key)?]);
            }
            v.insert(key.into(), json!(bytes));
        }
        if let Some(r) = v.get("scores") {
            let ranges: Vec<(usize, usize, f32)> =
                serde_json::from_value(r.clone()).map_err(|e| err(format!("`scores`: {e}")))?;
            let mut bytes = Vec::with_capacity(ranges.len());
            for (a, b, x) in ranges {
                bytes.push(json!([t.byte(a, "scores")?, t.byte(b, "scores")?, x]));
            }
            v.insert("scores".into(), json!(bytes));
        }
        if let Some(c) = v.remove("rsr_counts") {
            let c: Counts = serde_json::from_value(c).map_err(|e| err(format!("`rsr_counts`: {e}")))?;
            self.counts.add(&c);
        }
        if let Some(b) = v.remove("rsr_bytes_in").and_then(|b| b.as_u64()) {
            self.bytes_in += b;
        }
        let doc: TransformedDoc = serde_json::from_value(Value::Object(v)).map_err(err)?;
        self.writer.as_mut().ok_or_else(|| err("this part is already finished"))?.write(&doc).map_err(err)
    }

    /// Close the part and write its marker (with the part's sha256): the part is done.
    fn finish(&mut self) -> PyResult<()> {
        let w = self.writer.take().ok_or_else(|| err("this part is already finished"))?;
        w.finish().map_err(err)?;
        let (part, marker_path) = rsr_corpus::scale::part_paths(&self.out, self.index, false);
        let marker = rsr_corpus::scale::Marker {
            input: PathBuf::from(&self.source),
            input_bytes: 0,
            part: part.clone(),
            files_total: self.files_total,
            counts: self.counts.clone(),
            records_skipped: 0,
            docs_over_cap: 0,
            bytes_in: self.bytes_in,
            seconds: self.t0.elapsed().as_secs_f64(),
            knobs: self.knobs.clone(),
            part_sha256: Some(rsr_core::digest::sha256_file(&part).map_err(err)?),
        };
        let bytes = serde_json::to_vec_pretty(&marker).map_err(err)?;
        rsr_core::atomic::write_all(&marker_path, &bytes).map_err(err)
    }
}

/// Sum every finished part's marker into `out/manifest.json`, as `rsr stats merge`; an error
/// naming the parts still missing. Returns the manifest (JSON).
#[pyfunction]
fn merge_parts(out: PathBuf) -> PyResult<String> {
    rsr_corpus::scale::merge_stats(&out).map_err(err)?;
    manifest_json(&out)
}

/// Parse the body a model wrote in an unsafe reflection — format `v2`: the words after
/// `<|unsafe|>` (`" violent crimes. RATIONALE"`); `v1`: the whole body (`"unsafe: weapons. …"`
/// or `"safe"`). Returns `(verdict, category slug, rationale)`; `None` when it does not parse.
#[pyfunction]
fn parse_reflection(body: &str, format: &str) -> PyResult<Option<(String, Option<String>, String)>> {
    use rsr_core::reflection::{parse_body, parse_unsafe_body, Verdict};
    let parsed = match format {
        "v2" => parse_unsafe_body(body),
        "v1" => parse_body(body),
        other => return Err(err(format!("unknown reflection format `{other}` (v1, v2)"))),
    };
    Ok(parsed.ok().map(|v| match v {
        Verdict::Safe => ("safe".to_string(), None, String::new()),
        Verdict::Unsafe { category, rationale } => ("unsafe".to_string(), Some(category.slug().to_string()), rationale),
    }))
}

/// Text with every special-token spelling removed (what a rationale shows a user).
#[pyfunction]
fn strip_special(text: &str) -> String {
    rsr_core::special::strip(text)
}

/// The refusal a `stop` ends with (the decoder's, the server's).
#[pyfunction]
fn refusal() -> &'static str {
    rsr_core::reflection::REDIRECTS[0]
}

#[pymodule]
fn _rsr(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("RsrError", m.py().get_type::<RsrError>())?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_function(wrap_pyfunction!(segments, m)?)?;
    m.add_function(wrap_pyfunction!(generate_world, m)?)?;
    m.add_function(wrap_pyfunction!(prompt_sets, m)?)?;
    m.add_function(wrap_pyfunction!(pack, m)?)?;
    m.add_function(wrap_pyfunction!(export, m)?)?;
    m.add_function(wrap_pyfunction!(read_shard, m)?)?;
    m.add_function(wrap_pyfunction!(verify_split, m)?)?;
    m.add_function(wrap_pyfunction!(special_ids, m)?)?;
    m.add_function(wrap_pyfunction!(merge_parts, m)?)?;
    m.add_function(wrap_pyfunction!(parse_reflection, m)?)?;
    m.add_function(wrap_pyfunction!(strip_special, m)?)?;
    m.add_function(wrap_pyfunction!(refusal, m)?)?;
    m.add_class::<Transform>()?;
    m.add_class::<Annotator>()?;
    m.add_class::<World>()?;
    m.add_class::<PartWriter>()?;
    Ok(())
}
