//! # rsr-remote
//!
//! Brief overview: OpenAI-compatible chat endpoints (vLLM, llama.cpp, TGI,
//! `rsr serve`, hosted APIs) put to work — as the judge of an evaluation and
//! as a corpus annotator (Llama Guard on vLLM labelling every sentence).
//! Kept apart so the corpus crates stay free of an HTTP stack.
//!
//! - [`client`]: the chat client (retries with back-off, a shared rate limit);
//! - [`guard`]: Llama Guard-style prompts, answers, and the annotator.

pub mod client;
pub mod guard;

pub use client::ChatClient;
