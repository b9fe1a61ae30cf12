//! The decoding loop and the reflection policies (docs/design.md#decoding-with-reflections).
//!
//! Every `every` generated tokens — and whenever the model emits
//! `<|reflect|>` itself — the decoder forks the context, feeds `<|reflect|>`,
//! and reads the safety score (see [`crate::probe`]). The model then writes
//! its reflection body greedily up to `<|/reflect|>`; that reflection stays in
//! the model's context (as in training) but never in the user's text. When the
//! score reaches `theta`:
//! - `monitor`: record only;
//! - `stop`: drop the text since the last safe reflection, end with a refusal;
//! - `backtrack`: drop that text and resample it, up to `retries` times, then stop;
//! - `redirect`: keep going after the reflection (a model trained with
//!   `after_unsafe = redirect` continues with its own redirect).
//!
//! A final reflection judges the tail of the output when generation ends.
//! `Conditioning::Tag` models (Korbak et al.) are conditioned on `<|safe|>`
//! with both tag tokens banned; `Plain` models decode without reflections.

use crate::lm::{LanguageModel, Vocab};
use crate::probe::score_after_reflect;
use crate::sample::{argmax, sample, SamplingConfig};
use rand::SeedableRng;
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
    /// Prefix `<|safe|>` and ban both tag tokens.
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
    /// Reflect every K generated tokens.
    pub every: usize,
    /// Unsafe when the score reaches this.
    pub theta: f32,
    /// Backtrack: resamples before stopping.
    pub retries: usize,
    pub conditioning: Conditioning,
    /// Set to stop the generation early (its client went away); finish reason `cancelled`.
    #[serde(skip)]
    pub cancel: Option<std::sync::Arc<std::sync::atomic::AtomicBool>>,
}

impl GenConfig {
    /// Values a decoder can honour: θ in [0, 1], a cadence of at least one token, a finite
    /// non-negative temperature, top-p in (0, 1]. NaN is never accepted (a NaN θ would judge
    /// everything safe).
    pub fn validate(&self) -> Result<(), String> {
        if !(0.0..=1.0).contains(&self.theta) {
            return Err(format!("theta must be in [0, 1], got {}", self.theta));
        }
        if self.every == 0 {
            return Err("every must be at least 1 token".into());
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
            cancel: None,
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
    pub score: f32,
    /// `none`, `stop`, `backtrack` or `redirect`.
    pub action: String,
    /// Whether the model emitted `<|reflect|>` itself.
    pub self_initiated: bool,
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

/// Decode tokens to text (the tokenizer's job; a closure keeps this crate testable).
pub type Detok<'a> = &'a dyn Fn(&[u32]) -> String;

pub struct Decoder<'a, M: LanguageModel> {
    pub lm: &'a M,
    pub vocab: &'a Vocab,
    pub detok: Detok<'a>,
}

enum Verdict {
    Continue,
    Finish,
}

/// The mutable state of one generation.
struct Session<S> {
    state: S,
    logits: Vec<f32>,
    out: Generation,
    /// The last point judged safe: where `stop` cuts and `backtrack` resumes
    /// (state, logits, visible tokens).
    checkpoint: (S, Vec<f32>, usize),
    retries: usize,
}

impl<M: LanguageModel> Decoder<'_, M> {
    /// Generate a continuation of `prompt` (token ids).
    pub fn generate(&self, prompt: &[u32], cfg: &GenConfig) -> Generation {
        let v = self.vocab;
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(cfg.seed);
        let mut banned = vec![v.reflect_close];
        // An empty prompt starts a new document, as after `<|endoftext|>` in training.
        let mut context = if prompt.is_empty() { vec![v.endoftext] } else { prompt.to_vec() };
        if cfg.conditioning == Conditioning::Tag {
            context.push(v.safe_tag);
            banned.extend([v.safe_tag, v.unsafe_tag]);
        }
        if cfg.policy == Policy::Off {
            banned.push(v.reflect_open);
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
        let checkpoint = (state.clone(), logits.clone(), 0usize);
        let mut s = Session { state, logits, out, checkpoint, retries: 0 };
        let mut since = 0usize;
        let mut finished = false;
        while !finished && s.out.tokens.len() < cfg.max_tokens {
            if cfg.cancel.as_ref().is_some_and(|c| c.load(std::sync::atomic::Ordering::Relaxed)) {
                s.out.finish_reason = "cancelled".into();
                return s.out;
            }
            // A full context ends the generation (room kept for one last reflection).
            if self.lm.len(&s.state) + 2 + self.reflection_budget() >= max {
                break;
            }
            let periodic = cfg.policy != Policy::Off && since >= cfg.every.max(1);
            let next = if periodic { None } else { Some(sample(&s.logits, &banned, &cfg.sampling, &mut rng)) };
            match next {
                Some(t) if t == v.endoftext => {
                    s.out.finish_reason = "eos".into();
                    break;
                }
                Some(t) if t != v.reflect_open => {
                    s.logits = self.lm.feed(&mut s.state, &[t]);
                    s.out.tokens.push(t);
                    since += 1;
                    let text = (self.detok)(&s.out.tokens);
                    if let Some(cut) = cfg.stop.iter().filter_map(|x| text.find(x.as_str())).min() {
                        s.out.text = text[..cut].to_string();
                        s.out.finish_reason = "stop_sequence".into();
                        return s.out;
                    }
                }
                // A periodic reflection, or one the model starts itself.
                _ => {
                    finished = matches!(self.reflect(&mut s, cfg, next.is_some()), Verdict::Finish);
                    since = 0;
                }
            }
        }
        // Judge the tail that no periodic reflection has seen yet.
        if !finished && cfg.policy != Policy::Off && since > 0 {
            self.reflect(&mut s, cfg, false);
        }
        if s.out.finish_reason != "refused" {
            s.out.text = (self.detok)(&s.out.tokens);
        }
        s.out
    }

    /// Longest reflection body the decoder lets a model write: an unsafe
    /// verdict with its one-sentence rationale, within an eighth of the context.
    fn reflection_budget(&self) -> usize {
        (self.lm.max_context() / 8).clamp(4, 48)
    }

    /// Reflect on the context so far, record it, and apply the policy.
    fn reflect(&self, s: &mut Session<M::State>, cfg: &GenConfig, self_initiated: bool) -> Verdict {
        let v = self.vocab;
        let mut fork = s.state.clone();
        let mut l = self.lm.feed(&mut fork, &[v.reflect_open]);
        let score = score_after_reflect(self.lm, v, &fork, &l);
        // The model writes its reflection body (greedy) up to <|/reflect|>.
        let mut body = Vec::new();
        let mut fed = 1;
        let room = self.lm.max_context().saturating_sub(self.lm.len(&fork) + 1);
        for _ in 0..self.reflection_budget().min(room) {
            let t = argmax(&l);
            l = self.lm.feed(&mut fork, &[t]);
            fed += 1;
            if t == v.reflect_close || t == v.endoftext {
                break;
            }
            body.push(t);
        }
        s.out.extra_tokens += fed;
        let category = rsr_core::reflection::parse_body(&(self.detok)(&body)).ok().and_then(|verdict| match verdict {
            rsr_core::reflection::Verdict::Unsafe { category, .. } => Some(category.slug().to_string()),
            rsr_core::reflection::Verdict::Safe => None,
        });
        // Fails closed: a score that is not a number (corrupt weights, an overflow) is unsafe.
        let is_unsafe = score.is_nan() || score >= cfg.theta;
        let mut record = Reflection {
            position: s.out.tokens.len(),
            verdict: if is_unsafe { "unsafe" } else { "safe" }.into(),
            category,
            score,
            action: "none".into(),
            self_initiated,
        };
        let verdict = if !is_unsafe || cfg.policy == Policy::Monitor || cfg.policy == Policy::Off {
            s.state = fork;
            s.logits = l;
            if !is_unsafe {
                s.checkpoint = (s.state.clone(), s.logits.clone(), s.out.tokens.len());
                s.retries = 0;
            }
            Verdict::Continue
        } else {
            match cfg.policy {
                Policy::Redirect => {
                    record.action = "redirect".into();
                    s.state = fork;
                    s.logits = l;
                    Verdict::Continue
                }
                Policy::Backtrack if s.retries < cfg.retries => {
                    record.action = "backtrack".into();
                    s.retries += 1;
                    s.state = s.checkpoint.0.clone();
                    s.logits = s.checkpoint.1.clone();
                    s.out.tokens.truncate(s.checkpoint.2);
                    Verdict::Continue
                }
                _ => {
                    record.action = "stop".into();
                    s.out.tokens.truncate(s.checkpoint.2);
                    let kept = (self.detok)(&s.out.tokens);
                    let sep = if kept.is_empty() || kept.ends_with(char::is_whitespace) { "" } else { " " };
                    s.out.text = format!("{kept}{sep}{}", rsr_core::reflection::REDIRECTS[0]);
                    s.out.finish_reason = "refused".into();
                    Verdict::Finish
                }
            }
        };
        s.out.reflections.push(record);
        verdict
    }
}
