//! Writing a SafetyWorld corpus directory (layout in `rsr_core::corpus`):
//! documents stream to disk as they are generated, so any size fits in memory.

use crate::prompts::{PromptRecord, SETS};
use crate::{annotation, build_prompts, build_world, heldout_doc, train_doc, CorpusStats, LeakScanner, WorldConfig};
use rsr_core::corpus::{CorpusDir, DOCUMENT_NAMES};
use rsr_core::jsonl::JsonlWriter;
use rsr_core::manifest::{Manifest, Outcome};
use rsr_core::{atomic, Result};
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::collections::BTreeMap;
use std::path::Path;
use std::time::Instant;

pub const GROUND_TRUTH: &str = "ground_truth";

/// Generate the world `seed` into `dir`. `progress(done, total)` is called as
/// training documents are written.
pub fn write_world(
    dir: &Path,
    seed: u64,
    config: WorldConfig,
    compress: bool,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<WorldOutcome> {
    let t0 = Instant::now();
    let world = build_world(seed, config);
    let mut prompts = build_prompts(&world);
    let mut scanner = LeakScanner::new(&prompts);
    let corpus = CorpusDir::new(dir);
    let docs_name = if compress { DOCUMENT_NAMES[1] } else { DOCUMENT_NAMES[0] };

    let mut stats = CorpusStats::default();
    let mut docs = JsonlWriter::create(dir.join(docs_name))?;
    let mut ann = JsonlWriter::create(corpus.annotation(GROUND_TRUTH))?;
    let total = world.config.docs as u64;
    for i in 0..world.config.docs {
        let (doc, spans) = train_doc(&world, i);
        scanner.scan(&doc.text);
        stats.add(&doc, &spans);
        docs.write(&doc)?;
        ann.write(&annotation(&doc, spans))?;
        if i % 256 == 0 || i + 1 == world.config.docs {
            progress(i as u64 + 1, total);
        }
    }

    // Held-out documents: a corpus directory of their own.
    let held = CorpusDir::new(dir.join("heldout"));
    let mut hdocs = JsonlWriter::create(held.root.join(DOCUMENT_NAMES[0]))?;
    let mut hann = JsonlWriter::create(held.annotation(GROUND_TRUTH))?;
    let mut held_stats = CorpusStats::default();
    for i in 0..world.config.heldout_docs {
        let (doc, spans) = heldout_doc(&world, i);
        held_stats.add(&doc, &spans);
        hdocs.write(&doc)?;
        hann.write(&annotation(&doc, spans))?;
    }

    // Prompts that leaked verbatim into the corpus are dropped (the default
    // world has none: eval phrasings are disjoint from training phrasings).
    let leaked = scanner.leaked.len();
    let mut index = 0;
    prompts.retain(|_| {
        index += 1;
        !scanner.leaked.contains(&(index - 1))
    });
    let mut per_set = std::collections::BTreeMap::new();
    for set in SETS {
        let records: Vec<&PromptRecord> = prompts.iter().filter(|p| p.set == set).collect();
        let mut w = JsonlWriter::create(corpus.prompts_dir().join(format!("{set}.jsonl")))?;
        for r in &records {
            w.write(r)?;
        }
        w.finish()?;
        per_set.insert(set.to_string(), records.len() as u64);
    }

    let mut world_json = serde_json::to_vec_pretty(&world).expect("world serialises");
    world_json.push(b'\n');
    atomic::write_all(corpus.world(), &world_json)?;
    // Commit the documents last among the data, so a crash never leaves
    // documents without their annotations.
    hann.finish()?;
    hdocs.finish()?;
    ann.finish()?;
    docs.finish()?;
    let other = if compress { DOCUMENT_NAMES[0] } else { DOCUMENT_NAMES[1] };
    let _ = std::fs::remove_file(dir.join(other));

    let secs = t0.elapsed().as_secs_f64();
    let timing = WorldTiming { seconds: secs, mb_per_s: stats.bytes as f64 / 1e6 / secs.max(1e-9) };
    let outcome = Outcome::new(
        "gym",
        vec![],
        json!({ "seed": seed, "world": world.config, "compress": compress }),
        WorldCounts {
            train: stats,
            heldout: held_stats.clone(),
            prompts: per_set,
            prompts_dropped_as_leaked: leaked as u64,
            hazards_written: world.written_hazards().count() as u64,
            hazards_composed: world.hazards().filter(|p| p.heldout).count() as u64,
        },
        timing,
    );
    outcome.manifest.write(dir)?;
    Manifest::new(
        "gym-heldout",
        vec![],
        json!({ "seed": seed, "world": world.config }),
        json!({ "heldout": held_stats }),
    )
    .write(&held.root)?;
    Ok(outcome)
}

/// What `rsr gym` wrote — its manifest's `counts`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct WorldCounts {
    pub train: CorpusStats,
    pub heldout: CorpusStats,
    /// Prompts written per set.
    pub prompts: BTreeMap<String, u64>,
    pub prompts_dropped_as_leaked: u64,
    pub hazards_written: u64,
    pub hazards_composed: u64,
}

/// The wall-clock figures of writing a world.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct WorldTiming {
    pub seconds: f64,
    pub mb_per_s: f64,
}

/// What [`write_world`] did: its counts, its timing, and the manifest beside the world.
pub type WorldOutcome = Outcome<WorldCounts, WorldTiming>;
