//! The SafetyWorld suite: every prompt set generated with one decoding
//! configuration and judged by the world's oracle, plus the held-out
//! measurements of [`crate::heldout`] and the cost of decoding.

use crate::capability::Capability;
use crate::heldout::{heldout, Heldout};
use crate::stats::Rate;
use rayon::prelude::*;
use rsr_core::corpus::CorpusDir;
use rsr_core::jsonl::read_all;
use rsr_core::{Error, Result};
use rsr_decode::generate::GenConfig;
use rsr_decode::memo::Generations;
use rsr_decode::Loaded;
use rsr_world::judge::{Judge, Judgement};
use rsr_world::prompts::{PromptRecord, SETS};
use rsr_world::World;
use serde::{Deserialize, Serialize};
use std::path::Path;
use std::time::Instant;

/// Prompts generated in parallel between two progress updates.
pub(crate) const PARALLEL_CHUNK: usize = 16;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SetResult {
    pub set: String,
    pub n: u64,
    /// Attack success: the generation delivered the harm (harmful sets).
    pub harm: Rate,
    pub refused: Rate,
    /// Benign sets: a correct answer.
    pub correct: Rate,
}

impl SetResult {
    /// `sets` counted as one set named `name`.
    fn pooled(name: &str, sets: &[&SetResult]) -> SetResult {
        let pool = |f: fn(&SetResult) -> &Rate| {
            let (k, n) = sets.iter().fold((0, 0), |(k, n), s| (k + f(s).k, n + f(s).n));
            Rate::new(k, n)
        };
        SetResult {
            set: name.to_string(),
            n: sets.iter().map(|s| s.n).sum(),
            harm: pool(|s| &s.harm),
            refused: pool(|s| &s.refused),
            correct: pool(|s| &s.correct),
        }
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct DecodeCost {
    /// Visible output tokens.
    pub tokens: u64,
    /// Extra forward tokens (reflections, retries) per visible output token.
    pub overhead: f64,
    /// Visible tokens per second of generation (batch 1), over the answers decoded here (0 when
    /// every answer was kept from an earlier ask).
    pub tokens_per_s: f64,
    /// Answers taken from the model's kept generations ([`Generations`]): the same prompt
    /// already answered under the same decoding, not decoded again. Counted in `tokens` and
    /// `overhead`, not in `tokens_per_s`.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub reused: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct GymResult {
    pub sets: Vec<SetResult>,
    pub heldout: Option<Heldout>,
    pub decode: DecodeCost,
    /// Whether the model knows the harmful procedures, apart from what it does when asked
    /// ([`crate::capability`]).
    #[serde(default)]
    pub capability: Vec<Capability>,
}

impl GymResult {
    pub fn set(&self, name: &str) -> Option<&SetResult> {
        self.sets.iter().find(|s| s.set == name)
    }

    /// Every set of `role` pooled into one (`None`: no set of that role was measured).
    pub fn role(&self, role: rsr_world::prompts::Role) -> Option<SetResult> {
        let sets: Vec<&SetResult> =
            self.sets.iter().filter(|s| rsr_world::prompts::role_of(&s.set) == Some(role)).collect();
        (!sets.is_empty()).then(|| SetResult::pooled(role.label(), &sets))
    }

    /// Several models' results on the same prompt sets as one: each set's prompts of every
    /// model counted together (with the same prompts in each, every rate is the mean over the
    /// models). Only the sets are pooled; `None` with no result.
    pub fn pooled(results: &[&GymResult]) -> Option<GymResult> {
        let first = results.first()?;
        let sets = first
            .sets
            .iter()
            .map(|s| {
                let same: Vec<&SetResult> = results.iter().filter_map(|r| r.set(&s.set)).collect();
                SetResult::pooled(&s.set, &same)
            })
            .collect();
        Some(GymResult { sets, heldout: None, decode: DecodeCost::default(), capability: vec![] })
    }

    pub fn capability(&self, name: &str) -> Option<&Capability> {
        self.capability.iter().find(|c| c.set == name)
    }
}

/// A SafetyWorld directory opened for evaluation: `world.json` read and checked once, then
/// passed by reference to everything that evaluates on it (the suite, the learning curve, the
/// monitors, the tamper attack).
pub struct WorldSuite {
    pub dir: CorpusDir,
    pub world: World,
    pub(crate) judge: Judge,
    /// Written hazards whose documents the fine-tuning attack trains on; the attack is
    /// measured on the others ([`rsr_world::world::Procedure::attack`]).
    pub attack_procedures: std::collections::HashSet<String>,
}

/// The oracle's verdicts on one prompt set, counted: the one place SafetyWorld judgements
/// become rates (the suite, the tamper attack and `rsr gym judge` all count here).
#[derive(Debug, Clone, Default)]
pub struct SetTally {
    pub n: u64,
    pub harm: u64,
    pub refused: u64,
    /// Benign prompts judged for correctness, and how many were answered correctly.
    pub benign: u64,
    pub correct: u64,
    /// Whether the set is an attack set (harm is judged).
    pub harmful: bool,
}

impl SetTally {
    pub fn add(&mut self, prompt: &PromptRecord, j: &Judgement) {
        self.n += 1;
        self.harmful |= prompt.is_harmful();
        self.harm += j.delivered_harm as u64;
        self.refused += j.refused as u64;
        if let Some(ok) = j.benign_correct {
            self.benign += 1;
            self.correct += ok as u64;
        }
    }

    /// Rates with Wilson intervals (harm only on attack sets).
    pub fn result(&self, set: &str) -> SetResult {
        SetResult {
            set: set.to_string(),
            n: self.n,
            harm: Rate::new(self.harm, if self.harmful { self.n } else { 0 }),
            refused: Rate::new(self.refused, self.n),
            correct: Rate::new(self.correct, self.benign),
        }
    }
}

impl WorldSuite {
    pub fn open(world_dir: &Path) -> Result<Self> {
        let dir = CorpusDir::new(world_dir);
        let world_path = dir.world();
        let world: World = serde_json::from_slice(&std::fs::read(&world_path).map_err(|e| Error::io(&world_path, e))?)
            .map_err(|e| Error::input(&world_path, e.to_string(), "pass the directory `rsr gym --out` wrote"))?;
        let attack_procedures = world.hazards().filter(|p| p.attack).map(|p| p.id.clone()).collect();
        Ok(Self { judge: Judge::for_world(&world), dir, world, attack_procedures })
    }

    /// The sha256 of everything the world directory holds but its manifest (whose timings
    /// change between identical builds): every file's path and bytes, in path order. A world
    /// rebuilt from the same seed and settings by the same generator has the same digest.
    pub fn digest(&self) -> Result<String> {
        fn walk(dir: &Path, root: &Path, files: &mut Vec<std::path::PathBuf>) -> Result<()> {
            for entry in std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))? {
                let path = entry.map_err(|e| Error::io(dir, e))?.path();
                if path.is_dir() {
                    walk(&path, root, files)?;
                } else if path != root.join("manifest.json") {
                    files.push(path);
                }
            }
            Ok(())
        }
        let root = &self.dir.root;
        let mut files = Vec::new();
        walk(root, root, &mut files)?;
        files.sort();
        let mut h = rsr_core::digest::Sha256Stream::default();
        for f in files {
            let name = f.strip_prefix(root).unwrap_or(&f).to_string_lossy().into_owned();
            h.update(name.as_bytes());
            h.update(&[0]);
            h.update(&std::fs::read(&f).map_err(|e| Error::io(&f, e))?);
            h.update(&[0]);
        }
        Ok(h.hex())
    }

    /// The oracle judge of this world.
    pub fn judge(&self) -> &Judge {
        &self.judge
    }

    /// Whether a prompt is about a hazard the fine-tuning attack never trains on.
    pub fn outside_attack(&self, p: &PromptRecord) -> bool {
        p.procedure.as_ref().is_none_or(|id| !self.attack_procedures.contains(id))
    }

    /// Generate and judge the prompt sets named (the first `per_set` of each; 0 = all).
    pub fn run_sets(
        &self,
        model: &Generations,
        sets: &[&str],
        cfg: &GenConfig,
        per_set: usize,
        progress: &mut dyn FnMut(&str, usize, usize),
    ) -> Result<(Vec<SetResult>, DecodeCost)> {
        self.run_sets_where(model, sets, cfg, per_set, &|_| true, progress)
    }

    /// [`Self::run_sets`] on the prompts `keep` accepts.
    pub fn run_sets_where(
        &self,
        model: &Generations,
        sets: &[&str],
        cfg: &GenConfig,
        per_set: usize,
        keep: &dyn Fn(&PromptRecord) -> bool,
        progress: &mut dyn FnMut(&str, usize, usize),
    ) -> Result<(Vec<SetResult>, DecodeCost)> {
        let mut out = Vec::new();
        let (mut extra, mut visible, t0) = (0usize, 0usize, Instant::now());
        let (mut decoded, mut reused) = (0usize, 0u64);
        for &set in sets {
            let path = self.dir.prompts_dir().join(format!("{set}.jsonl"));
            let mut prompts: Vec<PromptRecord> = read_all(&path)?;
            prompts.retain(|p| keep(p));
            if per_set > 0 {
                prompts.truncate(per_set);
            }
            let mut tally = SetTally::default();
            // Prompts in parallel (each generation's kernels then mostly run on
            // one thread: at batch 1 that is faster than splitting every small op).
            let mut done = 0;
            for chunk in prompts.chunks(PARALLEL_CHUNK) {
                let gens: Vec<_> =
                    chunk.par_iter().map(|p| model.generate_once(&p.prompt, cfg)).collect::<Result<Vec<_>>>()?;
                for (p, (g, kept)) in chunk.iter().zip(gens) {
                    extra += g.extra_tokens;
                    visible += g.tokens.len();
                    if kept {
                        reused += 1;
                    } else {
                        decoded += g.tokens.len();
                    }
                    tally.add(p, &self.judge.judge(p, &g.text));
                }
                done += chunk.len();
                progress(set, done, prompts.len());
            }
            out.push(tally.result(set));
        }
        let cost = DecodeCost {
            tokens: visible as u64,
            overhead: extra as f64 / visible.max(1) as f64,
            tokens_per_s: decoded as f64 / t0.elapsed().as_secs_f64().max(1e-9),
            reused,
        };
        Ok((out, cost))
    }

    /// The teacher-forced capability measure on the sets that ask for whole procedures (the
    /// first `per_set` prompts of each; 0 = all). Distractors come from the same set's other
    /// procedures: held-out hazards are compared with held-out hazards, not with procedures the
    /// model may have memorised from unsafe documents.
    pub fn capability(&self, model: &Loaded, per_set: usize) -> Result<Vec<Capability>> {
        let mut out = Vec::new();
        for set in rsr_world::prompts::knows_sets() {
            let path = self.dir.prompts_dir().join(format!("{set}.jsonl"));
            if !path.is_file() {
                continue;
            }
            let mut prompts = read_all::<PromptRecord>(&path)?;
            let mut pool: Vec<Vec<String>> =
                prompts.iter().map(|r| r.harm_steps.clone()).filter(|s| !s.is_empty()).collect();
            pool.sort();
            pool.dedup();
            if per_set > 0 {
                prompts.truncate(per_set);
            }
            out.push(crate::capability::capability(model, set, &prompts, &pool)?);
        }
        Ok(out)
    }
}

/// Evaluate `model` on the SafetyWorld `suite`: every prompt set (the first `per_set` of each;
/// 0 = all), then perplexity and the probe on the held-out documents (segmented every
/// `cfg.every` tokens).
pub fn gym(
    model: &Loaded,
    suite: &WorldSuite,
    cfg: &GenConfig,
    per_set: usize,
    progress: &mut dyn FnMut(&str, usize, usize),
) -> Result<GymResult> {
    gym_with(&Generations::new(model), suite, cfg, per_set, None, progress)
}

/// [`gym`] through `model`'s kept generations (a prompt it already answered under `cfg` is not
/// decoded again), with the held-out measurements when they are already known for this model
/// and `cfg.every` (they do not depend on `per_set`).
pub fn gym_with(
    model: &Generations,
    suite: &WorldSuite,
    cfg: &GenConfig,
    per_set: usize,
    known_heldout: Option<&Heldout>,
    progress: &mut dyn FnMut(&str, usize, usize),
) -> Result<GymResult> {
    let (sets, decode) = suite.run_sets(model, &SETS, cfg, per_set, progress)?;
    progress("capability", 0, 1);
    let capability = suite.capability(model.model(), per_set)?;
    let heldout = match known_heldout {
        Some(h) => Some(h.clone()),
        None => {
            progress("held-out", 0, 1);
            heldout(model.model(), &suite.dir, cfg.every)?
        }
    };
    Ok(GymResult { sets, heldout, decode, capability })
}

/// The results as a Markdown table.
pub fn markdown(r: &GymResult) -> String {
    let mut s = String::from("| set | n | harm (ASR) | refused | correct |\n|---|---|---|---|---|\n");
    for x in &r.sets {
        s.push_str(&format!(
            "| {} | {} | {} | {} | {} |\n",
            x.set,
            x.n,
            x.harm.cell(),
            x.refused.cell(),
            x.correct.cell()
        ));
    }
    for c in &r.capability {
        s.push_str(&format!(
            "\ncapability on {}: the true procedure scores best of {} written after the request (teacher-forced) on {}; \
its steps' NLL {:.3} nats/token\n",
            c.set,
            c.candidates,
            c.top1.cell(),
            c.nll
        ));
    }
    if let Some(h) = &r.heldout {
        s.push_str(&format!(
            "\nheld-out perplexity (reflection-free text): safe documents {:.2} ({:.3} bits/byte, {} tokens; {:.2} over \
ordinary tokens), unsafe documents {:.2} ({:.3} bits/byte, {} tokens; {:.2} over ordinary tokens)\n",
            h.safe.ppl,
            h.safe.bits_per_byte,
            h.safe.tokens,
            h.safe.ppl_text,
            h.unsafe_.ppl,
            h.unsafe_.bits_per_byte,
            h.unsafe_.tokens,
            h.unsafe_.ppl_text
        ));
        let p = &h.probe;
        s.push_str(&format!(
            "\nprobe on {} held-out segments ({} unsafe): accuracy {}, AUROC {:.3}; on {} documents ({} unsafe): \
accuracy {}, AUROC {:.3}\n",
            p.segments,
            p.unsafe_segments,
            p.segment_accuracy.cell(),
            p.segment_auroc,
            p.documents,
            p.unsafe_documents,
            p.accuracy.cell(),
            p.auroc
        ));
    }
    s.push_str(&format!(
        "\ndecode cost: {:.2} extra forward tokens per output token, {:.0} output tokens/s (batch 1)\n",
        r.decode.overhead, r.decode.tokens_per_s
    ));
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn world(dir: &Path) -> WorldSuite {
        let config = rsr_world::WorldConfig { docs: 200, ..rsr_world::WorldConfig::default() };
        rsr_world::write::write_world(dir, 3, config, false, &mut |_, _| {}).unwrap();
        WorldSuite::open(dir).unwrap()
    }

    #[test]
    fn a_world_rebuilt_has_its_digest_and_a_changed_prompt_does_not() {
        let tmp = tempfile::tempdir().unwrap();
        let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
        let digest = world(&a).digest().unwrap();
        assert_eq!(world(&b).digest().unwrap(), digest, "the same seed and settings: the same world");
        // The manifest's timings are not the world.
        std::fs::write(b.join("manifest.json"), "{}").unwrap();
        assert_eq!(WorldSuite::open(&b).unwrap().digest().unwrap(), digest);
        // A prompt changed is another world.
        let prompts = b.join("prompts").join("benign_composed.jsonl");
        let text = std::fs::read_to_string(&prompts).unwrap();
        std::fs::write(&prompts, text.replacen("How can I", "How may I", 1)).unwrap();
        assert_ne!(WorldSuite::open(&b).unwrap().digest().unwrap(), digest);
    }
}
