//! The decoding loop and the reflection policies (docs/design.md#decoding-with-reflections).
//!
//! A **check** happens at the first sentence end after at least `every` generated tokens
//! (or at `2 × every` tokens without one: training's hard cap), whenever the model emits
//! `<|reflect|>` itself, and once more when generation ends (end of text, length, or a stop
//! sequence), so the last segment is always judged. A check feeds `<|reflect|>` and reads the
//! safety score from that one next-token distribution ([`crate::probe`]). Then:
//! - **safe**: with a model trained on a safe reflection after every safe segment, the verdict
//!   `<|safe|>` is fed and stays in context (as in training: two extra tokens per check); with
//!   sampled safe reflections the check is rolled back (a KV-cache truncate: one extra token);
//! - **unsafe** (score ≥ `theta`, or not a number): the model writes its verdict and category
//!   into the context — the only case that costs more — and the policy acts:
//!   - `monitor`: record only;
//!   - `stop`: drop the text since the last safe check, end with a refusal;
//!   - `backtrack`: drop that text and resample it, up to `retries` times, then stop;
//!   - `redirect`: keep going after the reflection (a model trained with
//!     `after_unsafe = redirect` continues with its own redirect).
//!
//! A model trained with a safe reflection after every safe segment also opens reflections
//! itself where it learned a segment ends; such a check counts as the periodic one. A model
//! trained with sampled safe reflections is never let open one while the decoder checks: the
//! decoder owns the cadence.
//!
//! Reflections live in the model's context, never in the user's text: `<|/reflect|>`, `<|safe|>`
//! and `<|unsafe|>` are never sampled as visible tokens, and a reflection the model opens itself
//! is written out of sight under every policy, `off` included (`off` only skips the forced checks).
//! `Conditioning::Tag` models (Korbak et al.) are conditioned on `<|safe|>` where training put
//! tags: at the start of the context (a document's first segment) and at every segment start,
//! that is at each check, where the check's score is the model's own P(`<|unsafe|>`) against
//! P(`<|safe|>`) for the segment that follows; only `<|unsafe|>` is banned, and a `<|safe|>` the
//! model writes itself stays out of sight.
//!
//! Streaming: text before the last safe check can no longer be retracted, so after each check
//! the decoder hands it to [`GenConfig::on_final`]; what follows the last check waits for the
//! end of the generation (a `stop` there would cut it).

use crate::lm::{LanguageModel, Vocab};
use crate::probe::score_after_reflect;
use crate::sample::{argmax, sample, SamplingConfig};
use crate::trained::ReflectionStyle;
use rand::SeedableRng;
use rsr_core::reflection::Format;
use serde::{Deserialize, Serialize};

#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Policy {
    /// No reflections (models trained without them).
    Off,
    Monitor,
    Stop,
    Backtrack,
    Redirect,
}

#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Conditioning {
    Plain,
    /// Korbak et al.: `<|safe|>` where training put tags (the context's start and every segment
    /// start, i.e. each check), `<|unsafe|>` banned; a check's score is the tag the model expects.
    Tag,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct GenConfig {
    pub max_tokens: usize,
    pub sampling: SamplingConfig,
    pub seed: u64,
    /// Stop sequences, matched on the visible text.
    pub stop: Vec<String>,
    pub policy: Policy,
    /// Check at the first sentence end after K generated tokens.
    pub every: usize,
    /// Unsafe when the score reaches this.
    pub theta: f32,
    /// Backtrack: resamples before stopping.
    pub retries: usize,
    pub conditioning: Conditioning,
    /// After each unsafe verdict, have the model write its one-sentence rationale too (format
    /// v2 writes one only at the training's rationale rate): costs a few forward tokens per
    /// unsafe check, nothing otherwise.
    #[serde(default)]
    pub rationales: bool,
    /// Never let a reflection into the context: `<|reflect|>` banned, so a reflection-trained
    /// model cannot open one itself (under `off` it otherwise does, where its training put
    /// them). Only with [`Policy::Off`]: every other policy writes reflections to check. What
    /// an rsr model writes with no reflection at all (docs/ablations.md).
    #[serde(default)]
    pub ban_reflections: bool,
    /// Set to stop the generation early (its client went away); finish reason `cancelled`.
    #[serde(skip)]
    pub cancel: Option<std::sync::Arc<std::sync::atomic::AtomicBool>>,
    /// Called with each new piece of text that no later check can retract, as checks make it
    /// final (for streaming; see [`Decoder::generate`]).
    #[serde(skip)]
    pub on_final: Option<OnFinal>,
}

/// A callback for text that has become final.
#[derive(Clone)]
pub struct OnFinal(pub std::sync::Arc<dyn Fn(&str) + Send + Sync>);

impl std::fmt::Debug for OnFinal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("OnFinal(..)")
    }
}

impl GenConfig {
    /// Values a decoder can honour: θ in [0, 1), a cadence of at least one token, a finite
    /// non-negative temperature, top-p in (0, 1]. NaN is never accepted (a NaN θ would judge
    /// everything safe), nor θ = 1 under a checking policy (a score never reaches 1, so nothing
    /// would ever be refused: ask for `--policy off` to decode without checks).
    pub fn validate(&self) -> Result<(), String> {
        if !(0.0..=1.0).contains(&self.theta) {
            return Err(format!("theta must be in [0, 1), got {}", self.theta));
        }
        if self.theta >= 1.0 && self.policy != Policy::Off {
            return Err(format!(
                "theta {} refuses nothing (a score never reaches 1); use --policy off to decode without checks",
                self.theta
            ));
        }
        if self.every == 0 {
            return Err("every must be at least 1 token".into());
        }
        if self.ban_reflections && self.policy != Policy::Off {
            return Err(format!(
                "banning reflections needs policy off: policy {:?} checks by writing reflections",
                self.policy
            )
            .to_lowercase());
        }
        let t = self.sampling.temperature;
        if !(t.is_finite() && t >= 0.0) {
            return Err(format!("temperature must be a finite number ≥ 0, got {t}"));
        }
        let p = self.sampling.top_p;
        if !(p > 0.0 && p <= 1.0) {
            return Err(format!("top_p must be in (0, 1], got {p}"));
        }
        Ok(())
    }
}

impl Default for GenConfig {
    fn default() -> Self {
        Self {
            max_tokens: 128,
            sampling: SamplingConfig::default(),
            seed: 0,
            stop: vec![],
            policy: Policy::Stop,
            every: 64,
            theta: 0.5,
            retries: 2,
            conditioning: Conditioning::Plain,
            rationales: false,
            ban_reflections: false,
            cancel: None,
            on_final: None,
        }
    }
}

/// One reflection during generation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Reflection {
    /// Visible tokens generated when it happened.
    pub position: usize,
    /// `safe` or `unsafe`, from the score and θ.
    pub verdict: String,
    /// The category the model wrote in its reflection, if any.
    pub category: Option<String>,
    /// The rationale the model wrote, when it wrote one (see [`GenConfig::rationales`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rationale: Option<String>,
    pub score: f32,
    /// `none`, `stop`, `backtrack` or `redirect`.
    pub action: String,
    /// Whether the model emitted `<|reflect|>` itself.
    pub self_initiated: bool,
}

impl Reflection {
    /// A check at `position` with its `score`, before the policy acts (`action` "none").
    fn check(position: usize, score: f32, is_unsafe: bool, self_initiated: bool) -> Self {
        Reflection {
            position,
            verdict: if is_unsafe { "unsafe" } else { "safe" }.into(),
            category: None,
            rationale: None,
            score,
            action: "none".into(),
            self_initiated,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Generation {
    /// What the user sees: never a reflection.
    pub text: String,
    pub tokens: Vec<u32>,
    pub reflections: Vec<Reflection>,
    /// `eos`, `length`, `stop_sequence`, `refused`.
    pub finish_reason: String,
    /// Tokens the model was fed beyond prompt and output (reflections, retries).
    pub extra_tokens: usize,
}

/// Does a segment close after visible token `t`, `since` tokens into it? At the first sentence
/// end once it holds `every` tokens, or at twice that regardless (the hard cap of
/// `rsr_corpus::segment`).
fn segment_closes(v: &Vocab, t: u32, since: usize, every: usize) -> bool {
    let every = every.max(1);
    since >= 2 * every || (since >= every && v.ends_sentence(t))
}

/// How many tokens of `context` follow its last segment end (by the decoder's own rule).
fn open_segment(v: &Vocab, context: &[u32], every: usize) -> usize {
    let mut since = 0;
    for &t in context {
        if t == v.reflect_open || t == v.endoftext {
            since = 0;
        } else if !v.hidden().contains(&t) {
            since += 1;
            if segment_closes(v, t, since, every) {
                since = 0;
            }
        }
    }
    since
}

/// A tag model's score at a segment start: P(`<|unsafe|>`) against P(`<|safe|>`) in the next-token
/// distribution (not a number when either logit is not finite: the check then fails closed).
pub fn tag_score(logits: &[f32], v: &Vocab) -> f32 {
    let (u, s) = (logits[v.unsafe_tag as usize], logits[v.safe_tag as usize]);
    if !(u.is_finite() && s.is_finite()) {
        return f32::NAN;
    }
    1.0 / (1.0 + (s - u).exp())
}

/// Where the decoder checks a generation of `tokens` after `prompt` (both token ids, the
/// generation's visible tokens only): the number of visible tokens at each check, the final
/// segment included — the same cadence [`Decoder::generate`] follows, for monitors that score
/// a finished generation afterwards (`rsr_eval::operating`).
pub fn check_points(v: &Vocab, prompt: &[u32], tokens: &[u32], every: usize) -> Vec<usize> {
    let context: &[u32] = if prompt.is_empty() { &[v.endoftext] } else { prompt };
    let mut since = open_segment(v, context, every);
    let mut out = Vec::new();
    for (i, &t) in tokens.iter().enumerate() {
        since += 1;
        if segment_closes(v, t, since, every) {
            out.push(i + 1);
            since = 0;
        }
    }
    if since > 0 {
        out.push(tokens.len());
    }
    out
}

/// Decode tokens to text (the tokenizer's job; a closure keeps this crate testable).
pub type Detok<'a> = &'a dyn Fn(&[u32]) -> String;

pub struct Decoder<'a, M: LanguageModel> {
    pub lm: &'a M,
    pub vocab: &'a Vocab,
    pub detok: Detok<'a>,
    /// How the model was trained to reflect (from its checkpoint; [`crate::trained`]).
    pub style: ReflectionStyle,
}

/// What a check did to the generation.
enum Outcome {
    /// Go on from where the check left the context.
    Continue,
    /// Backtracked: the text since the last safe check was dropped; go on from there.
    Rewound,
    /// The generation is over (refused).
    Finish,
}

/// A point judged safe: where `stop` cuts and `backtrack` resumes.
struct Mark {
    /// Tokens in the model's state.
    len: usize,
    logits: Vec<f32>,
    /// Visible tokens generated.
    visible: usize,
}

/// The mutable state of one generation.
struct Session<S> {
    state: S,
    logits: Vec<f32>,
    out: Generation,
    safe: Mark,
    retries: usize,
    /// Bytes of visible text handed to `on_final` so far.
    sent: usize,
}

impl<M: LanguageModel> Decoder<'_, M> {
    /// Generate a continuation of `prompt` (token ids).
    pub fn generate(&self, prompt: &[u32], cfg: &GenConfig) -> Generation {
        let v = self.vocab;
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(cfg.seed);
        let tagged = cfg.conditioning == Conditioning::Tag;
        // A tag model is conditioned at every segment start, so its checks run under any policy.
        let checking = cfg.policy != Policy::Off || tagged;
        let mut banned = v.hidden().to_vec();
        if tagged {
            // Only the unsafe tag is banned (Korbak et al.); a tag model never reflects.
            banned.retain(|&t| t != v.safe_tag);
            banned.push(v.reflect_open);
        } else if (checking && !self.style.keeps_safe_checks()) || cfg.ban_reflections {
            // Trained with sampled safe reflections: the decoder owns the cadence, and a text
            // that runs on without a reflection is what training showed. Or asked for: no
            // reflection in the context at all.
            banned.push(v.reflect_open);
        }
        // An empty prompt starts a new document, as after `<|endoftext|>` in training.
        let mut context = if prompt.is_empty() { vec![v.endoftext] } else { prompt.to_vec() };
        if tagged {
            // Training tags every segment at its start, the document's first included.
            context.insert(0, v.safe_tag);
        }
        // Keep the end of a long prompt, leaving at least half the context for the answer.
        let max = self.lm.max_context();
        let reserve = (cfg.max_tokens + self.reflection_budget() + 2).min(max / 2);
        let context = &context[context.len().saturating_sub((max - reserve).max(1))..];
        let mut state = self.lm.start();
        let logits = self.lm.feed(&mut state, context);
        let out = Generation {
            text: String::new(),
            tokens: vec![],
            reflections: vec![],
            finish_reason: "length".into(),
            extra_tokens: 0,
        };
        let safe = Mark { len: self.lm.len(&state), logits: logits.clone(), visible: 0 };
        let mut s = Session { state, logits, out, safe, retries: 0, sent: 0 };
        // The prompt's last open segment counts toward the first check, as in training, where
        // segments run across the turn boundary.
        let mut since = open_segment(v, context, cfg.every);
        // A tag model may write `<|safe|>` itself, but never twice in a row (it would fill the
        // context with tags): after any tag, only text follows.
        let mut banned_after_tag = banned.clone();
        banned_after_tag.push(v.safe_tag);
        let mut after_tag = false;
        loop {
            let mut ending = None;
            if s.out.tokens.len() >= cfg.max_tokens || self.lm.len(&s.state) + 2 + self.reflection_budget() >= max {
                // Out of tokens, or a full context (room kept for one last check).
                ending = Some("length");
            } else if cfg.cancel.as_ref().is_some_and(|c| c.load(std::sync::atomic::Ordering::Relaxed)) {
                s.out.finish_reason = "cancelled".into();
                return s.out;
            } else {
                let ban = if after_tag { &banned_after_tag } else { &banned };
                let t = sample(&s.logits, ban, &cfg.sampling, &mut rng);
                after_tag = false;
                if t == v.endoftext {
                    ending = Some("eos");
                } else if t == v.safe_tag {
                    // A tag model's own `<|safe|>`: context, never text; the decoder keeps the cadence.
                    s.logits = self.lm.feed(&mut s.state, &[t]);
                    s.out.extra_tokens += 1;
                    after_tag = true;
                    continue;
                } else if t == v.reflect_open {
                    // A reflection the model starts itself: written out of sight, under any policy.
                    since = 0;
                    if matches!(self.check(&mut s, cfg, true), Outcome::Finish) {
                        break;
                    }
                    self.emit_final(&mut s, cfg);
                    continue;
                } else {
                    s.logits = self.lm.feed(&mut s.state, &[t]);
                    s.out.tokens.push(t);
                    since += 1;
                    if !cfg.stop.is_empty() {
                        let text = (self.detok)(&s.out.tokens);
                        if cfg.stop.iter().any(|x| text.contains(x.as_str())) {
                            ending = Some("stop_sequence");
                        }
                    }
                    if ending.is_none() && checking && segment_closes(v, t, since, cfg.every) {
                        since = 0;
                        if matches!(self.check(&mut s, cfg, false), Outcome::Finish) {
                            break;
                        }
                        after_tag = tagged;
                        self.emit_final(&mut s, cfg);
                    }
                }
            }
            let Some(reason) = ending else { continue };
            // Judge the last segment before handing anything back.
            if checking && since > 0 {
                since = 0;
                match self.check(&mut s, cfg, false) {
                    Outcome::Finish => break,
                    Outcome::Rewound => {
                        after_tag = tagged;
                        continue;
                    }
                    Outcome::Continue => {}
                }
            }
            s.out.finish_reason = reason.into();
            break;
        }
        if s.out.finish_reason != "refused" {
            let text = (self.detok)(&s.out.tokens);
            let cut = cfg.stop.iter().filter_map(|x| text.find(x.as_str())).min();
            s.out.text = match cut {
                Some(c) => text[..c].to_string(),
                None => text,
            };
        }
        s.out
    }

    /// Hand `on_final` the text that has become final since the last call. Final: everything up
    /// to the last safe check under `stop` and `backtrack` (the only policies that retract), all
    /// of it under the others — minus a trailing piece that could still become a stop sequence,
    /// trailing whitespace, and an incomplete character, which wait for the next call (or for the
    /// generation's end, when the caller sends the rest of [`Generation::text`]).
    fn emit_final(&self, s: &mut Session<M::State>, cfg: &GenConfig) {
        let Some(cb) = &cfg.on_final else { return };
        let upto = match cfg.policy {
            Policy::Stop | Policy::Backtrack => s.safe.visible,
            _ => s.out.tokens.len(),
        };
        let text = (self.detok)(&s.out.tokens[..upto]);
        let mut end = text.trim_end_matches(|c: char| c.is_whitespace() || c == '\u{FFFD}').len();
        for stop in &cfg.stop {
            for (k, _) in stop.char_indices().skip(1) {
                if text[..end].ends_with(&stop[..k]) {
                    end = end.min(text[..end].len() - k);
                }
            }
        }
        if end > s.sent && text.is_char_boundary(s.sent) {
            (cb.0)(&text[s.sent..end]);
            s.sent = end;
        }
    }

    /// Longest reflection body the decoder lets a model write: an unsafe
    /// verdict with its one-sentence rationale, within an eighth of the context.
    fn reflection_budget(&self) -> usize {
        (self.lm.max_context() / 8).clamp(4, 48)
    }

    /// The model writes the rest of a reflection greedily, up to `<|/reflect|>` (or the budget),
    /// after `first` (its verdict token in v2, none in v1); returns its text. With `rationale`,
    /// a body about to close without one gets `.` and the model goes on to explain itself.
    fn write_reflection(
        &self,
        s: &mut Session<M::State>,
        mut logits: Vec<f32>,
        first: Option<u32>,
        rationale: bool,
    ) -> String {
        let v = self.vocab;
        let mut body = Vec::new();
        let mut asked = !rationale || v.period.is_none();
        if let Some(t) = first {
            logits = self.lm.feed(&mut s.state, &[t]);
            s.out.extra_tokens += 1;
        }
        let room = self.lm.max_context().saturating_sub(self.lm.len(&s.state) + 1);
        for _ in 0..self.reflection_budget().min(room) {
            let mut t = argmax(&logits);
            if t == v.reflect_close && !asked && !body.is_empty() && !(self.detok)(&body).contains('.') {
                t = v.period.expect("checked above");
                asked = true;
            }
            logits = self.lm.feed(&mut s.state, &[t]);
            s.out.extra_tokens += 1;
            if t == v.reflect_close || t == v.endoftext {
                break;
            }
            body.push(t);
        }
        s.logits = logits;
        (self.detok)(&body)
    }

    /// A tag model's check at a segment start: the score is the tag it expects next,
    /// P(`<|unsafe|>`) / (P(`<|unsafe|>`) + P(`<|safe|>`)); then `<|safe|>` is fed, as training
    /// tagged the segment that follows. Recorded (and acted on) unless the policy is `off`.
    fn tag_check(&self, s: &mut Session<M::State>, cfg: &GenConfig) -> Outcome {
        let v = self.vocab;
        let score = tag_score(&s.logits, v);
        let acting = cfg.policy != Policy::Off;
        // Fails closed: a score that is not a number is unsafe.
        let is_unsafe = acting && (score.is_nan() || score >= cfg.theta);
        let record = Reflection::check(s.out.tokens.len(), score, is_unsafe, false);
        if is_unsafe && matches!(cfg.policy, Policy::Stop | Policy::Backtrack) {
            return self.act(s, cfg, record);
        }
        s.logits = self.lm.feed(&mut s.state, &[v.safe_tag]);
        s.out.extra_tokens += 1;
        if !is_unsafe {
            s.safe = Mark { len: self.lm.len(&s.state), logits: s.logits.clone(), visible: s.out.tokens.len() };
            s.retries = 0;
        }
        if acting {
            s.out.reflections.push(record);
        }
        Outcome::Continue
    }

    /// Check the context so far, record it, and apply the policy.
    fn check(&self, s: &mut Session<M::State>, cfg: &GenConfig, self_initiated: bool) -> Outcome {
        if cfg.conditioning == Conditioning::Tag {
            return self.tag_check(s, cfg);
        }
        let v = self.vocab;
        let before_len = self.lm.len(&s.state);
        let before_logits = std::mem::take(&mut s.logits);
        let l = self.lm.feed(&mut s.state, &[v.reflect_open]);
        s.out.extra_tokens += 1;
        let score = score_after_reflect(self.lm, v, &self.style, &s.state, &l);
        // Fails closed: a score that is not a number (corrupt weights, an overflow) is unsafe.
        let is_unsafe = score.is_nan() || score >= cfg.theta;
        let mut record = Reflection::check(s.out.tokens.len(), score, is_unsafe, self_initiated);
        if !is_unsafe {
            match self.style.format {
                Format::V2 if self_initiated || self.style.keeps_safe_checks() => {
                    s.logits = self.lm.feed(&mut s.state, &[v.safe_tag]);
                    s.out.extra_tokens += 1;
                }
                Format::V2 => {
                    // Trained with sampled safe reflections: text usually runs on without one.
                    self.lm.truncate(&mut s.state, before_len);
                    s.logits = before_logits;
                }
                Format::V1 => {
                    self.write_reflection(s, l, None, false);
                }
            }
            s.safe = Mark { len: self.lm.len(&s.state), logits: s.logits.clone(), visible: s.out.tokens.len() };
            s.retries = 0;
            s.out.reflections.push(record);
            return Outcome::Continue;
        }
        // Unsafe: the model writes its verdict and category (the only check that costs more).
        let parsed = match self.style.format {
            Format::V2 => rsr_core::reflection::parse_unsafe_body(&self.write_reflection(
                s,
                l,
                Some(v.unsafe_tag),
                cfg.rationales,
            )),
            Format::V1 => rsr_core::reflection::parse_body(&self.write_reflection(s, l, None, false)),
        };
        if let Ok(rsr_core::reflection::Verdict::Unsafe { category, rationale }) = parsed {
            record.category = Some(category.slug().to_string());
            // Plain text: a rationale that wandered into special tokens loses them.
            record.rationale = Some(rsr_core::special::strip(&rationale)).filter(|r| !r.is_empty());
        }
        self.act(s, cfg, record)
    }

    /// Apply the policy to an unsafe check, and record it.
    fn act(&self, s: &mut Session<M::State>, cfg: &GenConfig, mut record: Reflection) -> Outcome {
        let outcome = match cfg.policy {
            Policy::Monitor | Policy::Off => Outcome::Continue,
            Policy::Redirect => {
                record.action = "redirect".into();
                Outcome::Continue
            }
            Policy::Backtrack if s.retries < cfg.retries => {
                record.action = "backtrack".into();
                s.retries += 1;
                self.lm.truncate(&mut s.state, s.safe.len);
                s.logits = s.safe.logits.clone();
                s.out.tokens.truncate(s.safe.visible);
                Outcome::Rewound
            }
            Policy::Backtrack | Policy::Stop => {
                record.action = "stop".into();
                s.out.tokens.truncate(s.safe.visible);
                let kept = (self.detok)(&s.out.tokens);
                let sep = if kept.is_empty() || kept.ends_with(char::is_whitespace) { "" } else { " " };
                s.out.text = format!("{kept}{sep}{}", rsr_core::reflection::REDIRECTS[0]);
                s.out.finish_reason = "refused".into();
                Outcome::Finish
            }
        };
        s.out.reflections.push(record);
        outcome
    }
}
