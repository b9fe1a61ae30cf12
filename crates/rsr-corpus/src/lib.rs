//! # rsr-corpus
//!
//! Brief overview: the corpus passes of the data flow (docs/design.md#data-flow), with no
//! ML dependency.
//!
//! - [`segment`]: sentences, and segments of about `every` tokens;
//! - [`label`]: segment verdicts from span annotations or an input field;
//! - [`noisy`]: the noisy annotator (per-category miss / false-alarm rates);
//! - [`annotator`]: annotators that label text themselves (`hashed`), and training examples from labels;
//! - [`transform`]: `rsr` and the `raw` / `filter` / `rewrite` / `tag` baselines;
//! - [`run`]: the drivers that read a corpus directory and write one;
//! - [`scale`]: many input files (JSONL, gz, zst, [`parquet`]) over N ranks, with completion markers and resume.
//!
//! ```
//! use rsr_core::{annotation::Span, doc::Document, taxonomy::Category};
//! use rsr_corpus::{segment::Whitespace, transform::*};
//!
//! let doc = Document { id: "d".into(), text: "A safe line. Grind the velorine.".into(), meta: Default::default() };
//! let spans = [Span::safe(0, 12), Span::unsafe_(13, 32, Category::Weapons)];
//! let cfg = TransformConfig { every: 2, ..TransformConfig::default() };
//! let out = transform_doc(&cfg, doc, &spans, &Whitespace, &mut Counts::default()).unwrap();
//! assert_eq!(out.text, "A safe line.<|reflect|><|safe|> Grind the velorine.<|reflect|><|unsafe|> weapons<|/reflect|>");
//! assert_eq!(out.masked, vec![[32, 51]]); // the unsafe sentence is never trained on
//! ```

pub mod annotator;
pub mod examples;
pub mod label;
pub mod noisy;
pub mod parquet;
pub mod pipeline;
pub mod run;
pub mod scale;
pub mod segment;
pub mod transform;
