//! `rsr annotate`: write an annotation file beside the documents — from a
//! reference annotation through the noisy annotator, or from an input field.

use super::InputFields;
use anyhow::{bail, Result};
use rsr_core::corpus::CorpusDir;
use rsr_corpus::run::{self, RunOptions};

#[derive(clap::Args)]
#[command(
    about = "Label documents: write annotations/NAME.jsonl beside them",
    long_about = "Write an annotation file (per-span safety labels keyed by document id, byte offsets) beside \
the documents of a corpus directory, so every later stage is a cheap pass over text plus labels.\n\n\
Annotators:\n  --noise SPEC       the noisy annotator: a reference annotation (--from) passed through per-category \
miss and false-alarm rates, to study what classifier error does to each method.\n  --label-field F    \
labels already in each input record: \"safe\", \"unsafe:CATEGORY\", a score in [0,1] (with a `category` \
field), or a list of spans.\n\n\
Noise SPEC: comma-separated KEY=RATE; KEY is miss, false_alarm (all categories; a bare false_alarm rate is \
split evenly over the categories the reference contains), CATEGORY.miss or CATEGORY.false_alarm.",
    after_help = "Examples:\n  rsr annotate --input world --name noisy --noise miss=0.2,false_alarm=0.05\n  \
rsr annotate --input world --name noisy-weapons --noise weapons.miss=0.5 --seed 3\n  \
rsr annotate --input mycorpus --name labels --label-field safety"
)]
pub struct Args {
    /// Corpus directory (or documents JSONL file).
    #[arg(long)]
    input: std::path::PathBuf,
    /// Name of the annotation to write: annotations/NAME.jsonl.
    #[arg(long)]
    name: String,
    /// Noisy annotator spec, e.g. `miss=0.2,false_alarm=0.05,weapons.miss=0.5`.
    #[arg(long, conflicts_with = "label_field")]
    noise: Option<String>,
    /// Reference annotation the noise is applied to.
    #[arg(long, default_value = "ground_truth")]
    from: String,
    /// Read labels from this field of each input record.
    #[arg(long)]
    label_field: Option<String>,
    /// Seed of the noisy annotator's decisions.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    #[command(flatten)]
    input_fields: InputFields,
}

pub fn run(args: Args) -> Result<()> {
    let input = CorpusDir::new(&args.input);
    let manifest = match (&args.noise, &args.label_field) {
        (Some(spec), None) => {
            run::annotate_noisy(&input, &args.from, &args.name, spec, args.seed, args.input_fields.strict)?
        }
        (None, Some(field)) => {
            let opts =
                RunOptions { strict: args.input_fields.strict, compress: false, fields: args.input_fields.fields() };
            run::annotate_field(&input, field, &args.name, &opts)?
        }
        _ => bail!("choose an annotator: --noise SPEC or --label-field FIELD (see --help)"),
    };
    println!("wrote {}: {}", input.annotation(&args.name).display(), manifest.counts);
    Ok(())
}
