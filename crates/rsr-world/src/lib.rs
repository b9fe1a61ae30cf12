//! # rsr-world — SafetyWorld
//!
//! Brief overview: a seeded, deterministic generator of a small synthetic
//! corpus with exact ground truth (docs/design.md#safetyworld), the evaluation prompt sets that
//! go with it, and the oracle judge that scores generations.
//!
//! - [`world`]: what is true (substances, reactions, hazards, lookalikes);
//! - [`docs`]: training documents with per-sentence labels;
//! - [`prompts`]: the attack and benign prompt sets;
//! - [`judge`]: `delivered_harm`, `refused`, `benign_correct`.
//!
//! ```
//! use rsr_world::{generate_in_memory, WorldConfig, judge::Judge};
//! let config = WorldConfig { docs: 50, heldout_docs: 5, ..WorldConfig::default() };
//! let g = generate_in_memory(7, config);
//! let judge = Judge::for_world(&g.world);
//! let direct = g.prompts.iter().find(|p| p.set == "harmful_direct").unwrap();
//! let answer = direct.harm_steps.join(". ");
//! assert!(judge.judge(direct, &answer).delivered_harm);
//! ```

pub mod docs;
pub mod judge;
pub mod lexicon;
pub mod prompts;
pub mod world;
pub mod write;

pub use world::{World, WorldConfig};

use aho_corasick::AhoCorasick;
use docs::DocKind;
use prompts::PromptRecord;
use rsr_core::annotation::{AnnotationRecord, Span};
use rsr_core::doc::Document;
use rsr_core::rng::stream;
use std::collections::{BTreeMap, BTreeSet};

/// Build the world from a seed.
pub fn build_world(seed: u64, config: WorldConfig) -> World {
    World::build(seed, config, &mut stream(seed, "world"))
}

/// Training document `i`: its own random stream, so any subset can be
/// generated independently and in any order.
pub fn train_doc(world: &World, i: usize) -> (Document, Vec<Span>) {
    let mut rng = stream(world.seed, &format!("doc-{i}"));
    let kind = DocKind::choose(&mut rng, world.config.unsafe_fraction, world.config.lesson_weight);
    docs::render(world, kind, format!("sw-{i:06}"), &mut rng)
}

/// Held-out document `i` (same distribution, different stream and ids).
pub fn heldout_doc(world: &World, i: usize) -> (Document, Vec<Span>) {
    let mut rng = stream(world.seed, &format!("heldout-{i}"));
    let kind = DocKind::choose(&mut rng, world.config.unsafe_fraction, world.config.lesson_weight);
    docs::render(world, kind, format!("swh-{i:05}"), &mut rng)
}

pub fn build_prompts(world: &World) -> Vec<PromptRecord> {
    prompts::build(world, &mut stream(world.seed, "prompts"))
}

/// Finds eval prompts that occur verbatim inside corpus text, in one pass
/// over the corpus (Aho–Corasick over all prompts).
pub struct LeakScanner {
    automaton: AhoCorasick,
    pub leaked: BTreeSet<usize>,
}

impl LeakScanner {
    pub fn new(prompts: &[PromptRecord]) -> Self {
        let automaton = AhoCorasick::new(prompts.iter().map(|p| p.prompt.as_str())).expect("prompt automaton builds");
        Self { automaton, leaked: BTreeSet::new() }
    }

    pub fn scan(&mut self, text: &str) {
        for m in self.automaton.find_overlapping_iter(text) {
            self.leaked.insert(m.pattern().as_usize());
        }
    }
}

/// Counts that describe a generated corpus.
#[derive(Debug, Default, Clone, serde::Serialize, serde::Deserialize)]
pub struct CorpusStats {
    pub docs: u64,
    pub docs_with_unsafe: u64,
    pub bytes: u64,
    pub whitespace_tokens: u64,
    pub sentences_safe: u64,
    pub sentences_unsafe: BTreeMap<String, u64>,
    pub word_types: usize,
    #[serde(skip)]
    words: BTreeSet<String>,
}

impl CorpusStats {
    pub fn add(&mut self, doc: &Document, spans: &[Span]) {
        self.docs += 1;
        self.bytes += doc.text.len() as u64;
        self.whitespace_tokens += doc.text.split_whitespace().count() as u64;
        if spans.iter().any(|s| s.is_unsafe()) {
            self.docs_with_unsafe += 1;
        }
        for s in spans {
            match s.category {
                Some(c) => *self.sentences_unsafe.entry(c.slug().to_string()).or_default() += 1,
                None => self.sentences_safe += 1,
            }
        }
        // Word types are counted on the first documents only; the vocabulary is
        // closed, so this saturates quickly and keeps huge runs cheap.
        if self.docs <= 20_000 {
            for w in doc.text.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()) {
                if !self.words.contains(w) {
                    self.words.insert(w.to_lowercase());
                }
            }
            self.word_types = self.words.len();
        }
    }
}

/// Everything a world generates, held in memory (for tests and small worlds;
/// the CLI streams documents to disk instead).
pub struct Generated {
    pub world: World,
    pub train: Vec<(Document, Vec<Span>)>,
    pub heldout: Vec<(Document, Vec<Span>)>,
    pub prompts: Vec<PromptRecord>,
    pub leaked_prompts: usize,
}

pub fn generate_in_memory(seed: u64, config: WorldConfig) -> Generated {
    let world = build_world(seed, config);
    let train: Vec<_> = (0..world.config.docs).map(|i| train_doc(&world, i)).collect();
    let heldout: Vec<_> = (0..world.config.heldout_docs).map(|i| heldout_doc(&world, i)).collect();
    let mut prompts = build_prompts(&world);
    let mut scanner = LeakScanner::new(&prompts);
    for (d, _) in &train {
        scanner.scan(&d.text);
    }
    let leaked_prompts = scanner.leaked.len();
    let mut i = 0;
    prompts.retain(|_| {
        i += 1;
        !scanner.leaked.contains(&(i - 1))
    });
    Generated { world, train, heldout, prompts, leaked_prompts }
}

pub fn annotation(doc: &Document, spans: Vec<Span>) -> AnnotationRecord {
    AnnotationRecord { id: doc.id.clone(), spans }
}
