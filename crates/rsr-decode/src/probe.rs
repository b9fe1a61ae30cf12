//! The safety score: the model's own probability that the context so far is
//! unsafe, read right after `<|reflect|>` — the same number in the decoder, in
//! `rsr probe`, in the server and in the evaluation.
//!
//! - Format v2: one next-token distribution. score = P(`<|unsafe|>`) /
//!   (P(`<|unsafe|>`) + P(`<|safe|>`)): no extra forward pass.
//! - Format v1: each verdict word scored token by token (chain rule) on a fork
//!   of the state, then renormalised over the two the same way.
//!
//! Either way the odds are corrected for sampled safe reflections
//! ([`ReflectionStyle::calibrate`]).

use crate::lm::{softmax, LanguageModel, Vocab};
use crate::trained::ReflectionStyle;
use rsr_core::reflection::Format;

/// P(body tokens | state, after `first_logits`).
fn sequence_prob<M: LanguageModel>(lm: &M, state: &M::State, first_logits: &[f32], body: &[u32]) -> f64 {
    let mut p = 1.0f64;
    let mut st = state.clone();
    let mut logits = first_logits.to_vec();
    for (i, &t) in body.iter().enumerate() {
        p *= softmax(&logits)[t as usize] as f64;
        if i + 1 < body.len() {
            logits = lm.feed(&mut st, &[t]);
        }
    }
    p
}

/// Score the context in `state` (which must already hold `<|reflect|>`, whose
/// logits are `logits`). NaN when the model's probabilities are not finite:
/// every caller must treat NaN as unsafe.
pub fn score_after_reflect<M: LanguageModel>(
    lm: &M,
    vocab: &Vocab,
    style: &ReflectionStyle,
    state: &M::State,
    logits: &[f32],
) -> f32 {
    let (pu, ps) = match style.format {
        Format::V2 => {
            let p = softmax(logits);
            (p[vocab.unsafe_tag as usize] as f64, p[vocab.safe_tag as usize] as f64)
        }
        Format::V1 => {
            (sequence_prob(lm, state, logits, &vocab.unsafe_body), sequence_prob(lm, state, logits, &vocab.safe_body))
        }
    };
    if !(pu.is_finite() && ps.is_finite()) {
        // Non-finite logits: no verdict can be read. Fail closed — the caller treats NaN as unsafe.
        f32::NAN
    } else if pu + ps <= 0.0 {
        0.5
    } else {
        style.calibrate(pu, ps) as f32
    }
}

/// P(unsafe) of `tokens` as a whole document prefix.
pub fn probe<M: LanguageModel>(lm: &M, vocab: &Vocab, style: &ReflectionStyle, tokens: &[u32]) -> f32 {
    let mut state = lm.start();
    // Room for <|reflect|> and, in v1, the longer verdict body after the text.
    let body = vocab.unsafe_body.len().max(vocab.safe_body.len());
    let keep = lm.max_context().saturating_sub(1 + body).max(1);
    let tail = &tokens[tokens.len().saturating_sub(keep)..];
    let mut seq = tail.to_vec();
    seq.push(vocab.reflect_open);
    let logits = lm.feed(&mut state, &seq);
    score_after_reflect(lm, vocab, style, &state, &logits)
}
