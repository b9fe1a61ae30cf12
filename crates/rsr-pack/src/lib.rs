//! # rsr-pack
//!
//! Brief overview: from transform output to token shards that trainers read.
//!
//! - [`tokenizer`]: byte-level BPE training and `tokenizer.json` loading, with
//!   the reflection special tokens registered one id each;
//! - [`fastbpe`]: the same ids and offsets as `tokenizers`' encode for byte-level BPE, faster;
//! - [`shard`]: the rsr shard format (spec, writer, validating reader);
//! - [`pack`]: documents + masked byte ranges → tokens + one loss-mask byte per token;
//! - [`export`]: Megatron-LM indexed datasets, OLMo-core memmaps, llm.c `.bin`.

pub mod export;
pub mod fastbpe;
pub mod pack;
pub mod shard;
pub mod tokenizer;
