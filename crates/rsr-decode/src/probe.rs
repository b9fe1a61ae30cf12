//! The safety probe: the model's own probability that the context so far is
//! unsafe, read right after `<|reflect|>`.
//!
//! score = P(`unsafe` body) / (P(`unsafe` body) + P(`safe` body)), each body
//! scored token by token (chain rule) on a fork of the state — so the score
//! is the model's verdict, renormalised over the two verdicts it was trained
//! to give.

use crate::lm::{softmax, LanguageModel, Vocab};

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
pub fn score_after_reflect<M: LanguageModel>(lm: &M, vocab: &Vocab, state: &M::State, logits: &[f32]) -> f32 {
    let pu = sequence_prob(lm, state, logits, &vocab.unsafe_body);
    let ps = sequence_prob(lm, state, logits, &vocab.safe_body);
    if !(pu.is_finite() && ps.is_finite()) {
        // Non-finite logits: no verdict can be read. Fail closed — the caller treats NaN as unsafe.
        f32::NAN
    } else if pu + ps <= 0.0 {
        0.5
    } else {
        (pu / (pu + ps)) as f32
    }
}

/// P(unsafe) of `tokens` as a whole document prefix.
pub fn probe<M: LanguageModel>(lm: &M, vocab: &Vocab, tokens: &[u32]) -> f32 {
    let mut state = lm.start();
    // Room for <|reflect|> and the longer verdict body after the text.
    let body = vocab.unsafe_body.len().max(vocab.safe_body.len());
    let keep = lm.max_context().saturating_sub(1 + body).max(1);
    let tail = &tokens[tokens.len().saturating_sub(keep)..];
    let mut seq = tail.to_vec();
    seq.push(vocab.reflect_open);
    let logits = lm.feed(&mut state, &seq);
    score_after_reflect(lm, vocab, &state, &logits)
}
