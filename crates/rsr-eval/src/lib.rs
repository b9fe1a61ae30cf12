//! # rsr-eval
//!
//! Brief overview: measure checkpoints — on SafetyWorld, where an oracle
//! knows the answer, and on real prompt sets — with a Wilson 95% interval on
//! every rate, and draw the comparison.
//!
//! - [`stats`]: Wilson intervals, AUROC;
//! - [`gym`]: the SafetyWorld suite (every prompt set judged by the oracle, decode cost);
//! - [`monitors`]: what scores a generation at each check (`own`, `classifier`, `linear-probe`,
//!   `none`), one file each; [`operating`]: every variant at the same over-refusal under each;
//! - [`results`]: the serde types every stage above writes and reads (run summaries, a seed's
//!   results);
//! - [`experiment`]: one seed of the comparison (`rsr demo`), by stage;
//! - [`heldout`]: perplexity on reflection-free held-out text, the probe per segment;
//! - [`curve`]: the suite over every checkpoint of a run (learning curves);
//! - [`tamper`]: fine-tuning attacks and attack success after each step count;
//! - [`suite`]: real prompt sets (and jailbreak templates) against a checkpoint or an endpoint;
//! - [`refusal`]: the string-match refusal judge (endpoints come from `rsr-remote`);
//! - [`study`]: `rsr study`, the comparison over seeds and budgets, paired on the same prompts;
//! - [`report`]: the comparison as one self-contained HTML page and a Markdown twin.
//!
//! ```
//! let (lo, hi) = rsr_eval::stats::wilson(45, 90);
//! assert!(lo < 0.5 && 0.5 < hi && hi - lo < 0.25);
//! ```

pub mod calibration;
pub mod capability;
pub mod curve;
pub mod diagnose;
pub mod experiment;
pub mod gym;
pub mod heldout;
pub mod monitors;
pub mod operating;
pub mod refusal;
pub mod report;
pub mod results;
pub mod stats;
pub mod study;
pub mod suite;
pub mod tamper;

pub use gym::{gym, markdown, GymResult, SetResult};
/// The OpenAI-compatible client (from `rsr-remote`).
pub use rsr_remote::client as endpoint;
pub use stats::{auroc, wilson, Rate};
