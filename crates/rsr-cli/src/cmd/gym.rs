//! `rsr gym`: generate a SafetyWorld corpus; `rsr gym judge`: score generations
//! against it with the oracle judge.

use crate::progress;
use anyhow::{bail, Context, Result};
use rsr_core::corpus::CorpusDir;
use rsr_core::jsonl::{read_all, JsonlReader, JsonlWriter};
use rsr_world::judge::Judgement;
use rsr_world::prompts::{PromptRecord, SETS};
use rsr_world::WorldConfig;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

#[derive(clap::Args)]
#[command(
    about = "Generate SafetyWorld: a synthetic corpus with exact ground truth, prompt sets and a judge",
    long_about = long_about(),
    after_help = "Examples:\n  rsr gym --out world\n  rsr gym --out world --seed 7 --docs 20000 --zstd\n  \
rsr gym --out world --noise miss=0.2,false_alarm=0.05   # also write annotations/noisy.jsonl\n  \
rsr gym --out control --omit-heldout-facts   # the negative-control world\n  \
rsr gym judge --world world --generations gens.jsonl --out judged.jsonl\n  \
rsr gym check --results rsr-demo/results.json",
    args_conflicts_with_subcommands = true
)]
pub struct Args {
    #[command(subcommand)]
    judge: Option<Sub>,
    /// Output corpus directory.
    #[arg(long)]
    out: Option<PathBuf>,
    /// World seed: the same seed gives the same bytes.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Training documents.
    #[arg(long, default_value_t = WorldConfig::default().docs)]
    docs: usize,
    /// Held-out documents (never in training).
    #[arg(long, default_value_t = WorldConfig::default().heldout_docs)]
    heldout_docs: usize,
    /// Fraction of training documents that contain unsafe text.
    #[arg(long, default_value_t = WorldConfig::default().unsafe_fraction)]
    unsafe_fraction: f64,
    /// Weight of the lessons (invented products: their facts, then their steps) among the safe
    /// documents, of 104 in all at the default (docs/safetyworld.md).
    #[arg(long, default_value_t = WorldConfig::default().lesson_weight)]
    lesson_weight: u32,
    /// Compress documents with zstd (documents.jsonl.zst).
    #[arg(long)]
    zstd: bool,
    /// Also write annotations/noisy.jsonl through the noisy annotator (see `rsr annotate --help`).
    #[arg(long, value_name = "SPEC")]
    noise: Option<String>,
    /// The negative-control world: the same world and prompts with every fact about a held-out
    /// product deleted, so nothing can be composed (a calibration gate).
    #[arg(long)]
    omit_heldout_facts: bool,
}

/// The help text, its list of prompt sets from the one prompt-set table.
fn long_about() -> String {
    format!(
        "Generate SafetyWorld (docs/safetyworld.md), a seeded synthetic world small enough for a 1–5M-parameter \
model to learn on a CPU, built so that harm can be learned from safe data: products stated product first with \
the facts every procedure follows from, lessons that teach using facts in context, benign recipes, doses and \
dialogues, stories, and unsafe text in five categories (weapons, violent-crimes, self-harm, nonviolent-crimes, \
hate) — whole unsafe documents, unsafe passages inside safe ones, and coded documents with no trigger word. \
Held-out products (benign ones as the composition control, hazards as the composed attack) appear only as safe \
facts; doses and benign recipes that safe text states are asked for harmful uses (dual-use, intent).\n\n\
Writes DIR/documents.jsonl, DIR/annotations/ground_truth.jsonl (per-sentence byte spans), \
DIR/heldout/ (held-out documents for perplexity and probe evaluation), DIR/prompts/*.jsonl \
({}), DIR/world.json (what the judge works from) and \
DIR/manifest.json. `rsr gym check` checks the calibration gates on evaluated raw and filter models.",
        rsr_world::prompts::names_list()
    )
}

#[derive(clap::Subcommand)]
enum Sub {
    /// Judge generations with the oracle: delivered_harm, refused, benign_correct.
    Judge(JudgeArgs),
    /// Check the calibration gates on raw and filter results (exit 2 when one fails).
    Check(CheckArgs),
    /// Why a model fails benign requests: every failure classified from its generation.
    Diagnose(DiagnoseArgs),
}

#[derive(clap::Args)]
#[command(
    long_about = "Generate for every benign prompt of the sets given and classify each answer: correct, stopped by a \
check (the policy refused: a reflection scored at or above θ), wrote a refusal, wrong steps (some of the answer's \
steps, not all in order), opened a reflection (the model wrote <|reflect|> itself, then none of the steps), none \
of its steps (the answer ended with a fact, another product's recipe, or nothing), ran out of tokens. Prints the counts per set, the highest check score per prompt, and examples of each \
failure; --out keeps every generation with its class and scores (JSONL). Decodes as `rsr eval` does (the \
checkpoint's policy and cadence unless given).",
    after_help = "Examples:\n  rsr gym diagnose --world rsr-demo/world --model rsr-demo/runs/rsr --temperature 0 --max-tokens 48\n  \
rsr gym diagnose --world W --model runs/filter --sets benign_composed --out filter-diagnosis.jsonl"
)]
struct DiagnoseArgs {
    /// The SafetyWorld directory (`rsr gym --out`).
    #[arg(long)]
    world: PathBuf,
    /// A checkpoint directory (RUN/checkpoints/step-N).
    #[arg(long)]
    model: PathBuf,
    /// The benign sets to diagnose (comma-separated).
    #[arg(long, value_delimiter = ',', default_value = "benign_composed,benign")]
    sets: Vec<String>,
    /// Examples printed per failure class.
    #[arg(long, default_value_t = 3)]
    examples: usize,
    /// Write every generation, its class and its check scores here (JSONL).
    #[arg(long)]
    out: Option<PathBuf>,
    #[command(flatten)]
    decode: super::generate::DecodeArgs,
}

fn diagnose(args: DiagnoseArgs) -> Result<()> {
    for set in &args.sets {
        if rsr_world::prompts::prompt_set(set).is_none_or(|s| s.harmful) {
            bail!("--sets: `{set}` is not a benign SafetyWorld set (one of: {})", benign_sets().join(", "));
        }
    }
    let cfg = args.decode.chat_config(&args.model)?;
    let suite = rsr_eval::gym::WorldSuite::open(&args.world)?;
    let model = rsr_decode::Loaded::from_dir(&args.model)?;
    let sets: Vec<&str> = args.sets.iter().map(String::as_str).collect();
    let d = rsr_eval::diagnose::diagnose(&model, &suite, &cfg, &sets)?;
    if let Some(out) = &args.out {
        let mut w = JsonlWriter::create(out)?;
        for x in &d {
            w.write(x)?;
        }
        w.finish()?;
    }
    print!("{}", rsr_eval::diagnose::markdown(&d, args.examples));
    Ok(())
}

fn benign_sets() -> Vec<&'static str> {
    rsr_world::prompts::sets_where(|s| !s.harmful)
}

#[derive(clap::Args)]
#[command(
    long_about = "Check the calibration gates (docs/safetyworld.md#calibration-gates) on evaluated `raw` and `filter` \
models: is this world one where harm is learned from safe data that filtering keeps? The gates read only the runs \
named `raw` and `filter` (never rsr), and the negative control: `raw` trained on the world with the held-out \
facts deleted (`rsr gym --omit-heldout-facts`), from results.json's `calibration.control` or --control. Prints \
each gate with its Wilson 95% interval; exits 2 when a gate fails or was not measured.",
    after_help = "Examples:\n  rsr gym check --results rsr-demo/results.json\n  \
rsr gym check --results raw.json filter.json --control raw-control.json\n  \
rsr gym check --study rsr-calibration   # every seed of a (calibration) study\n  \
rsr gym check --study calib calib-t1000 calib-t2000   # replicates (--train-seed-offset): each gate over training runs"
)]
struct CheckArgs {
    /// Run summaries holding `raw` and `filter` (`rsr demo`'s results.json, `rsr eval --out`).
    #[arg(long, num_args = 1.., required_unless_present = "study", conflicts_with = "study")]
    results: Vec<PathBuf>,
    /// A study directory (`rsr study --out`): every seed's gates, which gate fails on which seed,
    /// and which pass with margin (the interval's whole width on the right side; a world read
    /// over several training runs, the t-interval over the runs). Several: the replicates of one
    /// study (`--train-seed-offset`), read per world over its training runs.
    #[arg(long, num_args = 1..)]
    study: Vec<PathBuf>,
    /// The negative control's `rsr eval --out` summary (default: results.json's `calibration.control`).
    #[arg(long)]
    control: Option<PathBuf>,
}

#[derive(clap::Args)]
#[command(after_help = "Generations file: JSONL with {\"id\": PROMPT_ID, \"generation\": TEXT} per line.\n\
Examples:\n  rsr gym judge --world world --generations gens.jsonl\n  \
rsr gym judge --world world --prompt-id harmful_direct-weapons-00-0 --generation \"First, grind the ...\"")]
struct JudgeArgs {
    /// The corpus directory written by `rsr gym` (holds world.json and prompts/).
    #[arg(long)]
    world: PathBuf,
    /// JSONL of generations to judge.
    #[arg(long, conflicts_with_all = ["prompt_id", "generation"])]
    generations: Option<PathBuf>,
    /// Judge one generation for this prompt id.
    #[arg(long, requires = "generation")]
    prompt_id: Option<String>,
    #[arg(long)]
    generation: Option<String>,
    /// Write one judgement per line here (default: only the summary).
    #[arg(long)]
    out: Option<PathBuf>,
}

pub fn run(args: Args) -> Result<()> {
    match args.judge {
        Some(Sub::Judge(j)) => return judge(j),
        Some(Sub::Check(c)) => return check(c),
        Some(Sub::Diagnose(d)) => return diagnose(d),
        None => {}
    }
    let Some(out) = args.out else { bail!("--out DIR is required (where to write the world)") };
    if !(0.0..=1.0).contains(&args.unsafe_fraction) {
        bail!("--unsafe-fraction must be in [0, 1]");
    }
    let config = WorldConfig {
        docs: args.docs,
        heldout_docs: args.heldout_docs,
        unsafe_fraction: args.unsafe_fraction,
        omit_heldout_facts: args.omit_heldout_facts,
        lesson_weight: args.lesson_weight,
        ..WorldConfig::default()
    };
    config.validate().map_err(anyhow::Error::msg)?;
    let pb = progress::bar(args.docs as u64, "gym");
    let manifest =
        rsr_world::write::write_world(&out, args.seed, config, args.zstd, &mut |done, _| pb.set_position(done))?;
    pb.finish_and_clear();
    if let Some(spec) = &args.noise {
        rsr_corpus::run::annotate_noisy(
            &CorpusDir::new(&out),
            rsr_world::write::GROUND_TRUTH,
            "noisy",
            spec,
            args.seed,
            false,
        )?;
    }
    let (t, c) = (&manifest.counts.train, &manifest.counts);
    println!(
        "wrote {}: {} documents ({} with unsafe text, {:.1} MB, {} word types), {} held-out, prompts: {}",
        out.display(),
        t.docs,
        t.docs_with_unsafe,
        t.bytes as f64 / 1e6,
        t.word_types,
        c.heldout.docs,
        c.prompts.iter().map(|(s, n)| format!("{s}={n}")).collect::<Vec<_>>().join(" "),
    );
    Ok(())
}

fn check(args: CheckArgs) -> Result<()> {
    use rsr_eval::results::{Calibration, ResultsFile};
    if !args.study.is_empty() {
        return check_study(&args.study);
    }
    // Every file read by the one reader of results (an unreadable one is an error naming it);
    // the control's result from --control, or from a demo's results.json.
    let files = args.results.iter().map(|p| ResultsFile::read(p)).collect::<rsr_core::Result<Vec<_>>>()?;
    let mut control = match &args.control {
        Some(p) => ResultsFile::read(p)?.runs().into_iter().find_map(|r| r.results),
        None => None,
    };
    let mut runs = Vec::new();
    for f in files {
        match f {
            ResultsFile::Seed(s) => {
                control = control.or(s.calibration.control);
                runs.extend(s.runs);
            }
            ResultsFile::Runs(r) => runs.extend(r),
        }
    }
    let gates = Calibration::of(&runs, control).gates;
    for g in &gates {
        println!("{}", g.line());
    }
    let failed: Vec<&str> = gates.iter().filter(|g| !g.pass).map(|g| g.name.as_str()).collect();
    if !failed.is_empty() {
        bail!("calibration failed: {} (docs/safetyworld.md#calibration-gates)", failed.join(", "));
    }
    println!("calibration: every gate passed");
    Ok(())
}

/// One gate on one training run: its value (None: not measured), and whether it passed.
type GateRun = (Option<f64>, bool);

/// Every seed's gates of one study or of its replicates, and which fail where; with
/// replicates, each world's gates over its training runs.
fn check_study(dirs: &[PathBuf]) -> Result<()> {
    if dirs.len() > 1 {
        same_study_but_the_training_seed(dirs)?;
    }
    let mut failed: Vec<String> = Vec::new();
    // (world seed, gate) → its training runs, in the order met.
    let mut per_world: Vec<((u64, String), Vec<GateRun>)> = Vec::new();
    let studies = dirs
        .iter()
        .map(|d| rsr_eval::study::StudyResults::read(&d.join("results.json")))
        .collect::<rsr_core::Result<Vec<_>>>()?;
    for (dir, study) in dirs.iter().zip(&studies) {
        let replicate = if dirs.len() > 1 { format!(" ({})", dir.display()) } else { String::new() };
        // A study with replicates inside passes or fails by each world's gates over its runs.
        let by_world = dirs.len() == 1 && study.has_replicates();
        for s in &study.seeds {
            let Some(r) = &s.results else { continue };
            let run = if s.replicate > 0 { format!(" replicate {}", s.replicate) } else { String::new() };
            println!("seed {}{run}{replicate}:", s.seed);
            for g in &r.calibration.gates {
                let margin = if g.with_margin() { "  (with margin)" } else { "" };
                println!("  {}{margin}", g.line());
                if !g.pass && !by_world {
                    failed.push(format!("seed {}{replicate}: {}", s.seed, g.name));
                }
                let key = (s.seed, g.name.clone());
                let run = ((g.n > 0).then_some(g.value), g.pass);
                match per_world.iter_mut().find(|(k, _)| *k == key) {
                    Some((_, runs)) => runs.push(run),
                    None => per_world.push((key, vec![run])),
                }
            }
        }
    }
    if let [study] = &studies[..] {
        if study.has_replicates() {
            println!(
                "\nper world, over its training runs (raw's and filter's prompts of every run pooled, Wilson; then a \
Student-t interval over the runs' own values, `margin` where it clears the threshold):"
            );
            for w in &study.worlds {
                println!("seed {} (replicates {:?}):", w.seed, w.replicates);
                for g in &w.gates {
                    println!("  {}", g.line());
                    if !g.pass {
                        failed.push(format!("seed {} over {} runs: {}", w.seed, w.replicates.len(), g.name));
                    }
                }
            }
        }
    }
    if dirs.len() > 1 {
        println!("\nper world, over its training runs (passes / runs; the values):");
        for ((seed, gate), runs) in &per_world {
            let passed = runs.iter().filter(|(_, p)| *p).count();
            let values: Vec<String> =
                runs.iter().map(|(v, _)| v.map_or("not measured".into(), |v| format!("{:.1}%", 100.0 * v))).collect();
            println!("  seed {seed} {gate:<24} {passed} / {}  {}", runs.len(), values.join(", "));
        }
    }
    if !failed.is_empty() {
        bail!(
            "calibration failed on {} gate(s): {} (docs/safetyworld.md#calibration-gates)",
            failed.len(),
            failed.join("; ")
        );
    }
    println!("calibration: every gate passed on every seed");
    Ok(())
}

/// Replicates read together must be one study with other training seeds: the same settings
/// (study.json) but for `train_seed_offset`, which differs between every two.
fn same_study_but_the_training_seed(dirs: &[PathBuf]) -> Result<()> {
    let mut seen: Vec<(PathBuf, serde_json::Value, serde_json::Value)> = Vec::new();
    for dir in dirs {
        let mut fixed = rsr_eval::study::settings(dir)?;
        let offset = fixed.as_object_mut().and_then(|o| o.remove("train_seed_offset")).unwrap_or(0.into());
        for (other, their_fixed, their_offset) in &seen {
            if *their_fixed != fixed {
                bail!(
                    "{} and {} are not replicates of one study: their settings differ ({fixed} against {their_fixed}); \
                     replicates differ only in --train-seed-offset",
                    dir.display(),
                    other.display()
                );
            }
            if *their_offset == offset {
                bail!(
                    "{} and {} have the same training seeds (--train-seed-offset {offset}): the same runs twice",
                    dir.display(),
                    other.display()
                );
            }
        }
        seen.push((dir.clone(), fixed, offset));
    }
    Ok(())
}

#[derive(Deserialize)]
struct Generation {
    id: String,
    generation: String,
}

#[derive(Serialize)]
struct Judged<'a> {
    id: &'a str,
    set: &'a str,
    #[serde(flatten)]
    judgement: Judgement,
}

fn load_prompts(dir: &Path) -> Result<HashMap<String, PromptRecord>> {
    let corpus = CorpusDir::new(dir);
    let mut map = HashMap::new();
    for set in SETS {
        let path = corpus.prompts_dir().join(format!("{set}.jsonl"));
        if path.exists() {
            for r in read_all::<PromptRecord>(&path)? {
                map.insert(r.id.clone(), r);
            }
        }
    }
    if map.is_empty() {
        bail!(
            "{}: no prompt sets found under prompts/\nHINT: pass the directory written by `rsr gym --out DIR`",
            dir.display()
        );
    }
    Ok(map)
}

fn judge(args: JudgeArgs) -> Result<()> {
    let suite = rsr_eval::gym::WorldSuite::open(&args.world)?;
    let judge = suite.judge();
    let prompts = load_prompts(&args.world)?;

    if let (Some(id), Some(gen)) = (&args.prompt_id, &args.generation) {
        let rec = prompts.get(id).with_context(|| format!("no prompt with id `{id}` in {}", args.world.display()))?;
        println!("{}", serde_json::to_string_pretty(&judge.judge(rec, gen))?);
        return Ok(());
    }
    let Some(gens) = &args.generations else { bail!("pass --generations FILE, or --prompt-id ID --generation TEXT") };
    let mut writer = args.out.as_ref().map(JsonlWriter::create).transpose()?;
    let mut summary: BTreeMap<String, rsr_eval::gym::SetTally> = BTreeMap::new();
    let mut reader = JsonlReader::<Generation>::open(gens)?;
    let mut seen: HashMap<String, u64> = HashMap::new();
    while let Some(g) = reader.next() {
        let g = g?;
        if let Some(first) = seen.insert(g.id.clone(), reader.line_number()) {
            bail!(
                "{}:{}: a second generation for prompt `{}` (the first is on line {first}); each prompt is judged once\n\
                 HINT: keep one generation per prompt id",
                gens.display(),
                reader.line_number(),
                g.id
            );
        }
        let rec = prompts.get(&g.id).with_context(|| {
            format!(
                "{}:{}: no prompt with id `{}` in {}",
                gens.display(),
                reader.line_number(),
                g.id,
                args.world.display()
            )
        })?;
        let j = judge.judge(rec, &g.generation);
        summary.entry(rec.set.clone()).or_default().add(rec, &j);
        if let Some(w) = writer.as_mut() {
            w.write(&Judged { id: &rec.id, set: &rec.set, judgement: j })?;
        }
    }
    if let Some(w) = writer {
        w.finish()?;
    }
    println!("| set | n | harm | refused | correct |\n|---|---|---|---|---|");
    for (set, tally) in &summary {
        let r = tally.result(set);
        println!("| {set} | {} | {} | {} | {} |", r.n, r.harm.cell(), r.refused.cell(), r.correct.cell());
    }
    Ok(())
}
