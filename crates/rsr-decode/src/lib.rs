//! # rsr-decode
//!
//! Brief overview: generation that listens to the reflections a model learned
//! (DESIGN §4), and the same mechanism as a safety classifier.
//!
//! - [`lm`]: the `LanguageModel` trait (a forkable state that is fed tokens and
//!   returns next-token logits), implemented for `rsr_model::Model` with its KV cache;
//! - [`sample`]: temperature, top-k, top-p, banned tokens;
//! - [`generate`]: the decoding loop and the reflection policies
//!   `monitor`, `stop`, `backtrack`, `redirect`;
//! - [`probe`]: P(unsafe) right after `<|reflect|>`.

pub mod generate;
pub mod lm;
pub mod probe;
pub mod sample;
