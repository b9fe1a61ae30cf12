//! # rsr-core
//!
//! Brief overview: the vocabulary every `rsr` stage shares and nothing heavier.
//! It defines the special tokens and the reflection format (docs/design.md#reflection-format), the
//! safety taxonomy, documents and their byte-span annotations, JSONL reading
//! with file/line errors, atomic output files, manifests, and seeded random
//! streams. The corpus side (`rsr-world`, `rsr-corpus`) and the ML side build
//! on it; it never depends on either.
//!
//! ```
//! use rsr_core::reflection::{render, Format, Verdict};
//! use rsr_core::taxonomy::Category;
//!
//! let v = Verdict::Unsafe { category: Category::Weapons, rationale: String::new() };
//! assert_eq!(render(Format::V2, &v), "<|reflect|><|unsafe|> weapons<|/reflect|>");
//! assert_eq!(render(Format::V2, &Verdict::Safe), "<|reflect|><|safe|>");
//! let v1 = Verdict::Unsafe { category: Category::Weapons, rationale: "It explains a poison.".into() };
//! assert_eq!(render(Format::V1, &v1), "<|reflect|>unsafe: weapons. It explains a poison.<|/reflect|>");
//! ```

pub mod annotation;
pub mod atomic;
pub mod chat;
pub mod corpus;
pub mod digest;
pub mod doc;
pub mod error;
pub mod jsonl;
pub mod lock;
pub mod manifest;
pub mod reflection;
pub mod rng;
pub mod special;
pub mod taxonomy;
pub mod text;

pub use error::{BadRecord, Error, Result};

/// The version written into every manifest.
pub const TOOL_VERSION: &str = env!("CARGO_PKG_VERSION");
