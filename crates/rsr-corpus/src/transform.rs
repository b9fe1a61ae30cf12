//! The transforms: `rsr` (regular safety reflection) and the baselines `raw`,
//! `filter`, `rewrite`, `tag` — one cheap pass over documents + annotations
//! (docs/design.md#reflection-format).
//!
//! Every output document carries its text and two lists of byte ranges:
//! `masked` (text the loss must ignore) and `inserted` (text the transform
//! added: reflections, redirects, tags, rewrites). Deleting the `inserted`
//! ranges of an `rsr` output gives back the input text exactly (unless
//! `after_unsafe = truncate` cut the document).
//!
//! ```json
//! {"id":"sw-000001","text":"... heat the mixture.<|reflect|><|unsafe|> weapons<|/reflect|> ...",
//!  "masked":[[120,188]],"inserted":[[188,231]]}
//! ```

use crate::label::{label_segment, SegmentLabel};
use crate::segment::{segments, TokenCounter};
use rand::Rng;
use rsr_core::annotation::Span;
use rsr_core::doc::Document;
use rsr_core::reflection::{self, describe, Format, Verdict};
use rsr_core::rng::stream;
use rsr_core::special::{self, SAFE_TAG, UNSAFE_TAG};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Regular safety reflection after every segment.
    Rsr,
    /// Text unchanged: the baseline every other variant is compared with.
    Raw,
    /// Drop documents whose segment score (max or mean) reaches `tau`.
    Filter,
    /// Replace unsafe segments with a safe sentence ("a passage about … was left out").
    Rewrite,
    /// RefuseWeb-style rewrite (Safety Pretraining): keep every user turn, request included,
    /// and turn an unsafe assistant answer into a refusal (one per turn); unsafe text outside a
    /// dialogue becomes a safety notice, as in `rewrite`.
    Refuse,
    /// Korbak et al.: prefix segments with `<|safe|>` / `<|unsafe|>`.
    Tag,
}

impl Mode {
    /// Every mode, in the order tables list them (the baseline first, the method last): the
    /// experiment builds one corpus variant per mode, in this order.
    pub const ALL: [Mode; 6] = [Mode::Raw, Mode::Filter, Mode::Rewrite, Mode::Refuse, Mode::Tag, Mode::Rsr];

    /// Its name on the command line, in manifests and in tables.
    pub const fn name(self) -> &'static str {
        match self {
            Mode::Rsr => "rsr",
            Mode::Raw => "raw",
            Mode::Filter => "filter",
            Mode::Rewrite => "rewrite",
            Mode::Refuse => "refuse",
            Mode::Tag => "tag",
        }
    }
}

#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MaskPolicy {
    /// Loss-mask the text of unsafe segments: recognise it, never produce it.
    Unsafe,
    /// Loss-mask the unsafe text except a user's turn: the harmful answer is never produced,
    /// the harmful request stays trainable (documents in the chat layout of [`rsr_core::chat`];
    /// unsafe text outside any turn is masked as under `unsafe`).
    Answer,
    None,
}

#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AfterUnsafe {
    Continue,
    /// Insert a trained redirect/refusal sentence after the reflection.
    Redirect,
    /// End the document after the reflection.
    Truncate,
}

#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Aggregate {
    Max,
    Mean,
}

/// How `refuse` writes what stands in for an unsafe answer (the default, and the forms a
/// baseline trial can choose: docs/ablations.md, "Fair choice").
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RefusalForm {
    /// One of six refusal sentences, drawn per answer; unsafe text outside a turn becomes a notice.
    #[default]
    Varied,
    /// The same refusal sentence every time.
    Fixed,
    /// A refusal that names what the answer was about ("I will not explain how to …").
    Category,
    /// A refusal followed by an offer of safe help.
    Offer,
    /// As `varied`, but unsafe text outside a turn is deleted rather than replaced by a notice.
    NoNotice,
    /// Half the unsafe answers refused, the other half deleted with nothing in their place.
    Half,
    /// The exchange deleted: the unsafe answer and its segment's request both dropped, nothing in
    /// their place.
    DropExchange,
}

/// The sentence a form of `refuse` puts where an unsafe answer of `label` was (`None`: nothing).
/// `varied` draws exactly as the transform always has, so its corpus is unchanged.
fn refusal<R: Rng>(form: RefusalForm, label: &SegmentLabel, rng: &mut R) -> Option<String> {
    match form {
        RefusalForm::Varied | RefusalForm::NoNotice => Some(reflection::redirect(rng).to_string()),
        RefusalForm::Fixed => Some(reflection::REDIRECTS[0].to_string()),
        RefusalForm::Category => {
            Some(format!("I will not explain {}.", describe(label.category.expect("refuse replaces unsafe answers"))))
        }
        RefusalForm::Offer => {
            Some(format!("{} I am glad to help with something safe instead.", reflection::REDIRECTS[1]))
        }
        RefusalForm::Half => rng.gen_bool(0.5).then(|| reflection::redirect(rng).to_string()),
        RefusalForm::DropExchange => None,
    }
}

/// What `filter` drops.
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FilterUnit {
    /// A whole document, when its aggregated segment score reaches `tau`.
    #[default]
    Document,
    /// Each segment scoring ≥ `tau`: the rest of the document is kept (a document left with no
    /// text is dropped).
    Segment,
}

/// Every knob of the transforms; all are recorded in the manifest.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TransformConfig {
    pub mode: Mode,
    /// Segment cadence in tokens (hard cap at twice this).
    pub every: usize,
    /// rsr: fraction of safe segments that get a `safe` reflection. Below 1, decoding rolls its
    /// safe checks back instead of keeping them (docs/design.md#decoding-with-reflections).
    pub safe_rate: f64,
    /// rsr: the reflection format (a manifest without one was written in v1).
    #[serde(default = "Format::unrecorded")]
    pub format: Format,
    /// rsr, format v2: fraction of unsafe reflections that carry a one-sentence rationale
    /// (format v1 always writes one).
    #[serde(default)]
    pub rationale_rate: f64,
    pub mask: MaskPolicy,
    pub after_unsafe: AfterUnsafe,
    /// filter: drop a document whose aggregated segment score is ≥ tau.
    pub tau: f32,
    pub aggregate: Aggregate,
    /// filter: drop documents (the default) or segments.
    #[serde(default)]
    pub filter_unit: FilterUnit,
    /// tag: fraction of segments left untagged (Korbak et al. use 1%).
    pub untagged: f64,
    /// refuse: what stands in for an unsafe answer.
    #[serde(default)]
    pub refusal: RefusalForm,
    pub seed: u64,
    /// Write each segment's safety score beside its text (`scores` in every output record), so
    /// `rsr pack --scores` can write a score per token and a trainer can choose its own threshold
    /// at load time. Transforms that keep the text only (`rsr`, `raw`, `filter`, `tag`).
    #[serde(default)]
    pub scores: bool,
}

impl Default for TransformConfig {
    fn default() -> Self {
        Self {
            mode: Mode::Rsr,
            every: 128,
            safe_rate: 1.0,
            format: Format::V2,
            rationale_rate: 0.05,
            mask: MaskPolicy::Unsafe,
            after_unsafe: AfterUnsafe::Continue,
            tau: 0.5,
            aggregate: Aggregate::Max,
            filter_unit: FilterUnit::Document,
            untagged: 0.01,
            refusal: RefusalForm::Varied,
            seed: 0,
            scores: false,
        }
    }
}

impl TransformConfig {
    pub fn validate(&self) -> Result<(), String> {
        if self.every == 0 {
            return Err("--every must be at least 1 token".into());
        }
        for (name, v) in
            [("--safe-rate", self.safe_rate), ("--rationale-rate", self.rationale_rate), ("--untagged", self.untagged)]
        {
            if !(0.0..=1.0).contains(&v) {
                return Err(format!("{name} must be in [0, 1], got {v}"));
            }
        }
        if !(0.0..=1.0).contains(&self.tau) {
            return Err(format!("--tau must be in [0, 1], got {}", self.tau));
        }
        if self.scores && self.mode == Mode::Filter && self.filter_unit == FilterUnit::Segment {
            return Err("--scores needs the text kept; --filter-unit segment drops some of it".into());
        }
        if self.scores && matches!(self.mode, Mode::Rewrite | Mode::Refuse) {
            return Err(format!(
                "--scores needs a transform that keeps the text (rsr, raw, filter, tag); {} replaces it",
                self.mode.name()
            ));
        }
        Ok(())
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TransformedDoc {
    pub id: String,
    pub text: String,
    /// Absent in plain documents: nothing masked.
    #[serde(default)]
    pub masked: Vec<[usize; 2]>,
    /// Absent in plain documents: nothing inserted.
    #[serde(default)]
    pub inserted: Vec<[usize; 2]>,
    /// With `--scores`: `[start, end, score]` per segment of original text in the output, its
    /// safety score (the highest of the annotation spans it overlaps). Absent otherwise.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scores: Vec<(usize, usize, f32)>,
    #[serde(flatten)]
    pub meta: Map<String, Value>,
}

/// Counts for the manifest. Token figures are estimates from the run's
/// [`TokenCounter`]; special tokens count one each.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Counts {
    pub docs_in: u64,
    pub docs_out: u64,
    pub docs_dropped: u64,
    pub docs_truncated: u64,
    pub docs_unannotated: u64,
    pub segments_safe: u64,
    pub segments_unsafe: BTreeMap<String, u64>,
    pub reflections_safe: u64,
    pub reflections_unsafe: u64,
    pub redirects: u64,
    pub tags_safe: u64,
    pub tags_unsafe: u64,
    pub segments_untagged: u64,
    /// filter with the segment unit: segments left out.
    #[serde(default)]
    pub segments_dropped: u64,
    /// refuse, forms `half` and `drop-exchange`: unsafe answers deleted with nothing in their place.
    #[serde(default)]
    pub answers_deleted: u64,
    pub rewrites: u64,
    pub bytes_out: u64,
    pub masked_bytes: u64,
    pub text_tokens: u64,
    pub inserted_tokens: u64,
    pub masked_tokens: u64,
}

impl Counts {
    /// Add another run's counts (per-rank or per-file stats merged).
    pub fn add(&mut self, o: &Counts) {
        self.docs_in += o.docs_in;
        self.docs_out += o.docs_out;
        self.docs_dropped += o.docs_dropped;
        self.docs_truncated += o.docs_truncated;
        self.docs_unannotated += o.docs_unannotated;
        self.segments_safe += o.segments_safe;
        for (k, v) in &o.segments_unsafe {
            *self.segments_unsafe.entry(k.clone()).or_default() += v;
        }
        self.reflections_safe += o.reflections_safe;
        self.reflections_unsafe += o.reflections_unsafe;
        self.redirects += o.redirects;
        self.tags_safe += o.tags_safe;
        self.tags_unsafe += o.tags_unsafe;
        self.segments_untagged += o.segments_untagged;
        self.segments_dropped += o.segments_dropped;
        self.answers_deleted += o.answers_deleted;
        self.rewrites += o.rewrites;
        self.bytes_out += o.bytes_out;
        self.masked_bytes += o.masked_bytes;
        self.text_tokens += o.text_tokens;
        self.inserted_tokens += o.inserted_tokens;
        self.masked_tokens += o.masked_tokens;
    }

    /// Inserted tokens per token of original text kept.
    pub fn token_overhead(&self) -> f64 {
        ratio(self.inserted_tokens, self.text_tokens)
    }
    pub fn masked_fraction(&self) -> f64 {
        ratio(self.masked_bytes, self.bytes_out)
    }
    pub fn masked_token_fraction(&self) -> f64 {
        ratio(self.masked_tokens, self.text_tokens + self.inserted_tokens)
    }
    pub fn segments_unsafe_total(&self) -> u64 {
        self.segments_unsafe.values().sum()
    }
}

/// What a transform run counted — its manifest's `counts`: the transform's [`Counts`], their
/// ratios, and what the loop around it skipped.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct TransformCounts {
    #[serde(flatten)]
    pub transform: Counts,
    /// Inserted tokens per token of original text kept.
    pub token_overhead: f64,
    /// Masked bytes of the output.
    pub masked_fraction: f64,
    pub masked_token_fraction: f64,
    /// Malformed records skipped.
    pub records_skipped: u64,
    /// Documents whose text held a literal special token (neutralised on reading).
    #[serde(default)]
    pub docs_neutralised: u64,
    /// Documents over `--max-doc-bytes`, skipped.
    pub docs_over_cap: u64,
    pub bytes_in: u64,
    /// Parts merged (a scaled-out run's merged statistics only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parts: Option<u64>,
}

impl TransformCounts {
    /// `transform`'s counts with their ratios; the loop's figures start at zero.
    pub fn new(transform: Counts) -> Self {
        Self {
            token_overhead: transform.token_overhead(),
            masked_fraction: transform.masked_fraction(),
            masked_token_fraction: transform.masked_token_fraction(),
            transform,
            ..Self::default()
        }
    }
}

/// The wall-clock figures of a transform run.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct TransformTiming {
    pub seconds: f64,
    pub mb_per_s: f64,
    pub docs_per_s: f64,
}

fn ratio(a: u64, b: u64) -> f64 {
    if b == 0 {
        0.0
    } else {
        a as f64 / b as f64
    }
}

/// Builds an output document and its ranges.
struct Out<'c> {
    text: String,
    masked: Vec<[usize; 2]>,
    inserted: Vec<[usize; 2]>,
    counter: &'c dyn TokenCounter,
    counts: &'c mut Counts,
}

impl Out<'_> {
    fn text(&mut self, s: &str, masked: bool) {
        let start = self.text.len();
        self.text.push_str(s);
        let n = self.counter.count(s) as u64;
        self.counts.text_tokens += n;
        if masked && !s.is_empty() {
            push_range(&mut self.masked, start, self.text.len());
            self.counts.masked_bytes += s.len() as u64;
            self.counts.masked_tokens += n;
        }
    }

    /// Insert `parts` back to back; a part that is a special token counts as
    /// one token, any other part as many as the counter says.
    fn insert<S: AsRef<str>>(&mut self, parts: &[S]) {
        let start = self.text.len();
        for p in parts {
            let p = p.as_ref();
            self.text.push_str(p);
            self.counts.inserted_tokens += if special::ALL.contains(&p) { 1 } else { self.counter.count(p) as u64 };
        }
        push_range(&mut self.inserted, start, self.text.len());
    }

    fn reflect(&mut self, format: Format, verdict: &Verdict) {
        self.insert(&reflection::pieces(format, verdict));
    }
}

/// Append `[start, end)`, merging with the previous range when they touch.
fn push_range(ranges: &mut Vec<[usize; 2]>, start: usize, end: usize) {
    match ranges.last_mut() {
        Some(last) if last[1] == start => last[1] = end,
        _ => ranges.push([start, end]),
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Role {
    User,
    Assistant,
}

/// Where a turn's text starts, in a document in the chat layout of [`rsr_core::chat`]: a user
/// turn at the line break before `User:` (so text kept after a refusal keeps its own line), an
/// assistant's text after `Assistant:` (which stays).
struct Turn {
    start: usize,
    role: Role,
}

fn turns(text: &str) -> Vec<Turn> {
    let mut out = Vec::new();
    for (i, _) in text.match_indices(rsr_core::chat::USER) {
        if i == 0 || text[..i].ends_with('\n') {
            out.push(Turn { start: i.saturating_sub(1), role: Role::User });
        }
    }
    for (i, _) in text.match_indices(rsr_core::chat::ASSISTANT) {
        if i == 0 || text[..i].ends_with('\n') {
            out.push(Turn { start: i + rsr_core::chat::ASSISTANT.len(), role: Role::Assistant });
        }
    }
    out.sort_by_key(|t| t.start);
    out
}

/// The turn (its index and role) that byte `at` lies in; `None` outside any turn.
fn turn_at(turns: &[Turn], at: usize) -> Option<(usize, Role)> {
    let i = turns.iter().rposition(|t| t.start <= at)?;
    Some((i, turns[i].role))
}

/// A piece of a segment and the turn (its index and role) it lies in.
type Piece = (std::ops::Range<usize>, Option<(usize, Role)>);

/// `seg` cut where a turn starts inside it: each piece with the turn it lies in.
fn turn_pieces(turns: &[Turn], seg: std::ops::Range<usize>) -> Vec<Piece> {
    let cuts = turns.iter().map(|t| t.start).filter(|&c| seg.start < c && c < seg.end);
    let mut a = seg.start;
    let mut out = Vec::new();
    for b in cuts.chain([seg.end]) {
        out.push((a..b, turn_at(turns, a)));
        a = b;
    }
    out
}

/// Rewrite template: a safe sentence standing in for an unsafe segment.
fn rewrite_sentence<R: Rng>(label: &SegmentLabel, rng: &mut R) -> String {
    let what = describe(label.category.expect("rewrite only replaces unsafe segments"));
    let frames = [
        "A passage about {} was here; it is left out because it could cause harm.",
        "This part described {}, which is not repeated here.",
        "The original text went on about {}; that is not safe to share.",
    ];
    frames[rng.gen_range(0..frames.len())].replace("{}", what)
}

/// Fields a transform writes itself. An input record that already has one (the output of an
/// earlier transform fed back in) would come out with the key twice, so it is a record error.
pub const RESERVED_FIELDS: [&str; 2] = ["masked", "inserted"];

/// The error message for a record that carries a reserved field, if it does.
pub fn reserved_field_error(doc: &Document) -> Option<String> {
    RESERVED_FIELDS.iter().find(|f| doc.meta.contains_key(**f)).map(|f| {
        format!(
            "document `{}` already has a `{f}` field, which rsr transform writes: is this the output of an earlier \
             transform? Transform the original corpus, or rename the field",
            doc.id
        )
    })
}

/// Transform one document. `spans` are its annotations (empty = all safe).
/// Returns `None` when the document is dropped.
pub fn transform_doc(
    cfg: &TransformConfig,
    doc: Document,
    spans: &[Span],
    counter: &dyn TokenCounter,
    counts: &mut Counts,
) -> Option<TransformedDoc> {
    counts.docs_in += 1;
    let segs = segments(&doc.text, cfg.every, counter);
    let labels: Vec<SegmentLabel> = segs.iter().map(|s| label_segment(s, spans)).collect();
    for l in &labels {
        match l.category {
            Some(c) => *counts.segments_unsafe.entry(c.slug().to_string()).or_default() += 1,
            None => counts.segments_safe += 1,
        }
    }
    let segment_filter = cfg.mode == Mode::Filter && cfg.filter_unit == FilterUnit::Segment;
    if cfg.mode == Mode::Filter && !segment_filter && !labels.is_empty() {
        let score = match cfg.aggregate {
            Aggregate::Max => labels.iter().map(|l| l.score).fold(0.0, f32::max),
            Aggregate::Mean => labels.iter().map(|l| l.score).sum::<f32>() / labels.len() as f32,
        };
        if score >= cfg.tau {
            counts.docs_dropped += 1;
            return None;
        }
    }
    let mut rng = stream(cfg.seed, &doc.id);
    let mut out =
        Out { text: String::with_capacity(doc.text.len() + 64), masked: vec![], inserted: vec![], counter, counts };
    if cfg.mode == Mode::Raw || (cfg.mode == Mode::Filter && !segment_filter) {
        out.text(&doc.text, false);
    } else {
        let mut pos = 0;
        let mut truncated = false;
        // Whitespace between segments is masked too when it lies inside an
        // unsafe span (a sentence the hard cap cut in two).
        let mask_unsafe = cfg.mode == Mode::Rsr && cfg.mask != MaskPolicy::None;
        let answer_only = cfg.mode == Mode::Rsr && cfg.mask == MaskPolicy::Answer;
        let turns = if cfg.mode == Mode::Refuse || answer_only { turns(&doc.text) } else { vec![] };
        // Under `answer`, a user's turn is never masked.
        let in_user_turn = |at: usize| answer_only && matches!(turn_at(&turns, at), Some((_, Role::User)));
        let gap_masked =
            |r: std::ops::Range<usize>| mask_unsafe && !in_user_turn(r.start) && label_segment(&r, spans).is_unsafe();
        let mut refused_turn = None;
        for (seg, label) in segs.iter().zip(&labels) {
            out.text(&doc.text[pos..seg.start], gap_masked(pos..seg.start));
            let seg_text = &doc.text[seg.clone()];
            pos = seg.end;
            match cfg.mode {
                Mode::Tag => {
                    if rng.gen_bool(cfg.untagged) {
                        out.counts.segments_untagged += 1;
                    } else if label.is_unsafe() {
                        out.insert(&[UNSAFE_TAG]);
                        out.counts.tags_unsafe += 1;
                    } else {
                        out.insert(&[SAFE_TAG]);
                        out.counts.tags_safe += 1;
                    }
                    out.text(seg_text, false);
                }
                Mode::Rewrite => {
                    if label.is_unsafe() {
                        out.insert(&[&rewrite_sentence(label, &mut rng)]);
                        out.counts.rewrites += 1;
                    } else {
                        out.text(seg_text, false);
                    }
                }
                Mode::Refuse => {
                    if !label.is_unsafe() {
                        out.text(seg_text, false);
                        continue;
                    }
                    // The segment's pieces by turn: user text stays, an assistant answer becomes
                    // one refusal, text outside any turn a notice.
                    for (r, turn) in turn_pieces(&turns, seg.clone()) {
                        match turn {
                            Some((i, Role::Assistant)) => {
                                if refused_turn != Some(i) {
                                    match refusal(cfg.refusal, label, &mut rng) {
                                        Some(sentence) => {
                                            let sep = if out.text.ends_with(char::is_whitespace) { "" } else { " " };
                                            out.insert(&[sep, &sentence]);
                                            out.counts.rewrites += 1;
                                        }
                                        None => out.counts.answers_deleted += 1,
                                    }
                                    refused_turn = Some(i);
                                }
                            }
                            Some((_, Role::User)) => {
                                if cfg.refusal != RefusalForm::DropExchange {
                                    out.text(&doc.text[r], false)
                                }
                            }
                            None => {
                                if cfg.refusal != RefusalForm::NoNotice {
                                    out.insert(&[&rewrite_sentence(label, &mut rng)]);
                                    out.counts.rewrites += 1;
                                }
                            }
                        }
                    }
                }
                Mode::Rsr => {
                    let Some(category) = label.category else {
                        out.text(seg_text, false);
                        if rng.gen_bool(cfg.safe_rate) {
                            out.reflect(cfg.format, &Verdict::Safe);
                            out.counts.reflections_safe += 1;
                        }
                        continue;
                    };
                    if answer_only {
                        for (r, turn) in turn_pieces(&turns, seg.clone()) {
                            out.text(&doc.text[r], !matches!(turn, Some((_, Role::User))));
                        }
                    } else {
                        out.text(seg_text, mask_unsafe);
                    }
                    let with_rationale = cfg.format == Format::V1 || rng.gen_bool(cfg.rationale_rate);
                    let rationale =
                        if with_rationale { reflection::rationale(category, &mut rng) } else { String::new() };
                    out.reflect(cfg.format, &Verdict::Unsafe { category, rationale });
                    out.counts.reflections_unsafe += 1;
                    match cfg.after_unsafe {
                        AfterUnsafe::Continue => {}
                        AfterUnsafe::Redirect => {
                            out.insert(&[" ", reflection::redirect(&mut rng)]);
                            out.counts.redirects += 1;
                        }
                        AfterUnsafe::Truncate => {
                            truncated = true;
                            break;
                        }
                    }
                }
                Mode::Filter => {
                    // Segment unit: an unsafe segment is left out, with nothing in its place.
                    if label.score >= cfg.tau {
                        out.counts.segments_dropped += 1;
                    } else {
                        out.text(seg_text, false);
                    }
                }
                Mode::Raw => unreachable!(),
            }
        }
        if truncated {
            out.counts.docs_truncated += 1;
        } else {
            out.text(&doc.text[pos..], gap_masked(pos..doc.text.len()));
        }
    }
    let Out { text, masked, inserted, .. } = out;
    if segment_filter && text.trim().is_empty() {
        counts.docs_dropped += 1;
        return None;
    }
    counts.docs_out += 1;
    counts.bytes_out += text.len() as u64;
    let scores = if cfg.scores { segment_scores(&segs, &labels, &inserted, text.len()) } else { vec![] };
    Some(TransformedDoc { id: doc.id, text, masked, inserted, scores, meta: doc.meta })
}

/// Each input segment's place in an output that only inserted text (`inserted`, in output
/// offsets) into the input, with its score; segments past a truncation are cut at `out_len`.
/// Text inserted at a segment's start comes before it (the previous segment's reflection).
fn segment_scores(
    segs: &[std::ops::Range<usize>],
    labels: &[SegmentLabel],
    inserted: &[[usize; 2]],
    out_len: usize,
) -> Vec<(usize, usize, f32)> {
    // One walk over segments and insertions, both in order: `shift` is what was inserted so
    // far, an insertion at a segment's start counted before it, one at its end after it.
    let (mut ins, mut shift) = (inserted.iter().peekable(), 0usize);
    let mut advance = |upto: usize, inclusive: bool| {
        while let Some([s, e]) = ins.peek() {
            // Where this insertion sits in the input.
            let q = s - shift;
            if q > upto || (q == upto && !inclusive) {
                break;
            }
            shift += e - s;
            ins.next();
        }
        upto + shift
    };
    segs.iter()
        .zip(labels)
        .map(|(r, l)| {
            let start = advance(r.start, true).min(out_len);
            let end = advance(r.end, false).min(out_len);
            (start, end, l.score)
        })
        .filter(|(s, e, _)| s < e)
        .collect()
}
