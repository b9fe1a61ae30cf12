//! # rsr-model
//!
//! Brief overview: a Llama-architecture language model trained on rsr shards
//! with the loss mask applied exactly, on the CPU, with an explicit
//! forward/backward (no autograd graph, no per-op allocation in the hot loop).
//!
//! - [`config`]: `ModelConfig` with Hugging Face field names and presets;
//! - [`ops`]: the kernels (matmul via `gemm`, RMSNorm, RoPE, attention, SwiGLU, cross-entropy), forward and backward;
//! - [`vmath`]: vectorised `exp`, softmax and SwiGLU rows (AVX2 chosen at run time);
//! - [`model`]: parameters by HF tensor name, forward, backward;
//! - [`optim`]: AdamW, warm-up + cosine schedule, gradient clipping;
//! - [`data`]: batches from rsr shards, reproducible per step;
//! - [`checkpoint`]: HF-loadable safetensors + config.json, optimizer state;
//! - [`finetune`]: fine-tuning a trained model in memory (the tamper attack);
//! - [`train`]: the training loop (metrics, validation, checkpoints, exact resume);
//! - [`infer`]: a KV cache for generation (batched prefill, then one token at a time).

pub mod checkpoint;
pub mod config;
pub mod data;
pub mod finetune;
pub mod infer;
pub mod model;
pub mod names;
pub mod ops;
pub mod optim;
pub mod train;
pub mod vmath;
