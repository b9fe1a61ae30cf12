//! `rsr transform`: turn a labelled corpus into training text — with regular
//! safety reflections (`rsr`) or as one of the baselines.

use super::InputFields;
use crate::progress;
use anyhow::Result;
use rsr_core::corpus::CorpusDir;
use rsr_core::reflection::Format;
use rsr_corpus::label::LabelSource;
use rsr_corpus::run::{self, RunOptions};
use rsr_corpus::transform::{AfterUnsafe, Aggregate, FilterUnit, MaskPolicy, Mode, RefusalForm, TransformConfig};
use std::path::PathBuf;

#[derive(clap::Args)]
#[command(
    about = "Insert safety reflections (rsr) or build a baseline (raw, filter, rewrite, tag)",
    long_about = "Transform a labelled corpus directory into training documents.\n\n\
  rsr      after each segment of ~EVERY tokens (closing at the first sentence end past EVERY, hard cap \
2×EVERY) insert <|reflect|><|safe|> (for a --safe-rate fraction of safe segments) or \
<|reflect|><|unsafe|> CATEGORY<|/reflect|> (with a rationale at --rationale-rate; --format v1 writes the older \
<|reflect|>unsafe: CATEGORY. RATIONALE<|/reflect|>); unsafe text is loss-masked (--mask unsafe), so the model learns to recognise it, never to produce it\n  \
raw      the text unchanged\n  filter   drop documents whose max (or mean) segment score is ≥ TAU\n  \
rewrite  replace unsafe segments with a safe sentence (\"a passage about … was left out\")\n  refuse   keep every user turn; an unsafe assistant answer becomes one refusal (RefuseWeb-style)\n  tag      prefix each segment with <|safe|> or \
<|unsafe|> (Korbak et al. 2023), leaving a fraction untagged\n\n\
Output: OUT/documents.jsonl with {id, text, masked: [[start,end]...], inserted: [[start,end]...]} \
(byte ranges: `masked` text is excluded from the loss; `inserted` text was added by the transform), and \
OUT/manifest.json with every knob and the counts (segments per category, reflections, token overhead, \
masked fraction). Literal special tokens in the input are neutralised so data can never forge a reflection.",
    after_help = "Examples:\n  rsr transform --mode rsr --input world --out world-rsr\n  \
rsr transform --mode rsr --input world --out world-rsr-redirect --every 32 --after-unsafe redirect\n  \
rsr transform --mode rsr --input world --out world-rsr-noisy --labels noisy\n  \
rsr transform --mode filter --input world --out world-filter --tau 0.5 --aggregate max\n  \
rsr transform --mode tag --input world --out world-tag --untagged 0.01\n\n\
Scaled out (many files, JSONL/.gz/.zst/Parquet, directories and globs; one part per input file, resumable):\n  \
rsr transform --mode rsr --input 'crawl/*.parquet' --classifier safety.rsrclf --out crawl-rsr --rank 0 --world-size 8\n  \
rsr transform --mode rsr --input crawl/ --label-field safety --out crawl-rsr     # ranks from SLURM_ARRAY_TASK_ID etc.\n  \
rsr stats merge crawl-rsr                                                       # once every rank is done"
)]
pub struct Args {
    #[arg(long, value_enum)]
    mode: Mode,
    /// Corpus directory (or documents JSONL file) to read.
    #[arg(long, num_args = 1.., required = true)]
    input: Vec<String>,
    /// Output corpus directory.
    #[arg(long)]
    out: PathBuf,
    /// Annotation that supplies the verdicts: annotations/NAME.jsonl.
    #[arg(long, default_value = "ground_truth")]
    labels: String,
    /// Take verdicts from this field of each input record instead (see `rsr annotate --help`).
    #[arg(long, conflicts_with = "labels")]
    label_field: Option<String>,
    /// Segment cadence in tokens (whitespace-token estimate).
    #[arg(long, default_value_t = 128)]
    every: usize,
    /// rsr: fraction of safe segments followed by a safe reflection. Below 1, fewer tokens; decoding
    /// then rolls its safe checks back (one forward token each) and rescales the score's odds by
    /// this rate (docs/design.md#reflection-format).
    #[arg(long, default_value_t = 1.0)]
    safe_rate: f64,
    /// rsr: the reflection format. v2 writes the verdict as one special token
    /// (`<|reflect|><|safe|>`, `<|reflect|><|unsafe|> CATEGORY<|/reflect|>`); v1 spells it out.
    #[arg(long, value_enum, default_value = "v2")]
    format: Format,
    /// rsr, format v2: fraction of unsafe reflections that carry a one-sentence rationale.
    #[arg(long, default_value_t = 0.05)]
    rationale_rate: f64,
    /// rsr: what of the unsafe text the loss ignores: all of it (`unsafe`), all but a user's
    /// turn — the request stays trainable, the answer does not (`answer`) — or none.
    #[arg(long, value_enum, default_value = "unsafe")]
    mask: MaskPolicy,
    /// rsr: what follows an unsafe reflection.
    #[arg(long, value_enum, default_value = "continue")]
    after_unsafe: AfterUnsafe,
    /// filter: drop a document whose aggregated segment score is ≥ TAU.
    #[arg(long, default_value_t = 0.5)]
    tau: f32,
    /// filter: aggregate segment scores by max or mean.
    #[arg(long, value_enum, default_value = "max")]
    aggregate: Aggregate,
    /// filter: drop whole documents (their aggregated score ≥ TAU), or each segment scoring ≥ TAU
    /// and keep the rest of its document.
    #[arg(long, value_enum, default_value = "document")]
    filter_unit: FilterUnit,
    /// tag: fraction of segments left untagged.
    #[arg(long, default_value_t = 0.01)]
    untagged: f64,
    /// refuse: what stands in for an unsafe answer (`varied`: one of six refusal sentences, and a
    /// notice for unsafe text outside a turn).
    #[arg(long, value_enum, default_value = "varied")]
    refusal_form: RefusalForm,
    /// Seed for sampled choices (safe-rate, rationale wording, untagged segments).
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Write each segment's safety score beside its text (`scores: [[start, end, score], ...]`),
    /// for `rsr pack --scores` (a per-token score file a trainer can threshold at load time).
    /// rsr, raw, filter and tag only.
    #[arg(long)]
    scores: bool,
    /// Compress the output: documents.jsonl.zst (one corpus directory) or parts/part-N.jsonl.zst
    /// (many files).
    #[arg(long)]
    zstd: bool,
    /// Count segment tokens with this tokenizer.json (exact) instead of whitespace words (estimate).
    #[arg(long)]
    tokenizer: Option<PathBuf>,
    #[command(flatten)]
    annotator: super::AnnotatorArgs,
    /// This process's rank among --world-size independent ranks (default: from SLURM_ARRAY_TASK_ID,
    /// JOB_COMPLETION_INDEX or RANK). Input file i goes to rank i mod world size.
    #[arg(long)]
    rank: Option<usize>,
    #[arg(long)]
    world_size: Option<usize>,
    /// Documents longer than this many bytes are skipped and counted (docs_over_cap), never cut.
    #[arg(long, default_value_t = rsr_corpus::run::DEFAULT_MAX_DOC_BYTES)]
    max_doc_bytes: usize,
    #[command(flatten)]
    input_fields: InputFields,
}

impl Args {
    fn config(&self) -> TransformConfig {
        TransformConfig {
            mode: self.mode,
            every: self.every,
            safe_rate: self.safe_rate,
            format: self.format,
            rationale_rate: self.rationale_rate,
            mask: self.mask,
            after_unsafe: self.after_unsafe,
            tau: self.tau,
            aggregate: self.aggregate,
            filter_unit: self.filter_unit,
            untagged: self.untagged,
            refusal: self.refusal_form,
            seed: self.seed,
            scores: self.scores,
        }
    }
}

/// One corpus directory (or one JSONL file with annotations beside it) → one corpus directory;
/// anything else — several inputs, globs, directories of files, Parquet, ranks — is a
/// scaled-out run writing one part per input file. Both run the same transform loop
/// (`rsr_corpus::pipeline`), so every flag means the same on both.
fn scaled(args: &Args) -> bool {
    let one = &args.input[0];
    let p = std::path::Path::new(one);
    let corpus_dir = p.is_dir() && rsr_core::corpus::CorpusDir::new(p).documents().is_ok();
    let jsonl_file = p.is_file() && !one.ends_with(".parquet");
    // A single path that does not exist gets the corpus-directory error, which says how to make one.
    let missing = !p.exists() && !one.contains(['*', '?', '[']);
    args.input.len() > 1
        || !(corpus_dir || jsonl_file || missing)
        || args.rank.is_some()
        || args.world_size.is_some()
        || ["SLURM_ARRAY_TASK_ID", "JOB_COMPLETION_INDEX", "WORLD_SIZE"].iter().any(|k| std::env::var(k).is_ok())
}

fn run_scaled(
    args: &Args,
    cfg: &TransformConfig,
    labels: LabelSource<'_>,
    counter: &dyn rsr_corpus::segment::TokenCounter,
) -> Result<()> {
    use rsr_corpus::scale::{self, Rank, ScaleConfig};
    let (rank, from) = Rank::resolve(args.rank, args.world_size)?;
    let files = scale::input_files(&args.input)?;
    // Records without an id get FILE:LINE (stable).
    let sc = ScaleConfig {
        transform: cfg,
        labels,
        fields: args.input_fields.fields(),
        counter,
        max_doc_bytes: args.max_doc_bytes,
        strict: args.input_fields.strict,
        compress: args.zstd,
    };
    let mine = rank.files(files.len()).count();
    println!("rank {} of {} ({from}): {mine} of {} input files", rank.rank, rank.world_size, files.len());
    let pb = progress::spinner("transform");
    let r = scale::transform_files(&files, &args.out, &sc, rank, &mut |p| progress::update_rank(&pb, p))?;
    pb.finish_and_clear();
    for (file, id) in &r.over_cap {
        eprintln!(
            "warning: {}: document `{id}` is over --max-doc-bytes {}: skipped (counted as docs_over_cap)",
            file.display(),
            args.max_doc_bytes
        );
    }
    warn_unannotated(r.counts.docs_unannotated);
    println!(
        "rank {}: {} files ({} already done, {} transformed); {} → {} documents; {:.1} MB in {:.1} s",
        rank.rank,
        r.files,
        r.done_before,
        r.transformed,
        r.counts.docs_in,
        r.counts.docs_out,
        r.bytes_in as f64 / 1e6,
        r.seconds
    );
    match scale::merge_stats(&args.out) {
        Ok(m) => println!(
            "all {} parts done: wrote {}",
            m.counts.parts.unwrap_or_default(),
            args.out.join("manifest.json").display()
        ),
        Err(e) => println!(
            "not all parts are done yet ({e}); when every rank has finished: rsr stats merge {}",
            args.out.display()
        ),
    }
    Ok(())
}

fn warn_unannotated(n: u64) {
    if n > 0 {
        eprintln!("warning: {n} document(s) had no verdict (no annotation or label field) and were treated as safe");
    }
}

pub fn run(args: Args) -> Result<()> {
    let cfg = args.config();
    let tokenizer = args.tokenizer.as_deref().map(rsr_pack::tokenizer::RsrTokenizer::load).transpose()?;
    let counter: &dyn rsr_corpus::segment::TokenCounter = match &tokenizer {
        Some(t) => t,
        None => &rsr_corpus::segment::Whitespace,
    };
    let annotator = args.annotator.annotator()?;
    let labels = match (&annotator, &args.label_field) {
        (Some(a), _) => LabelSource::Annotator(a.as_ref()),
        (None, Some(f)) => LabelSource::Field(f),
        (None, None) if scaled(&args) && cfg.mode != Mode::Raw => anyhow::bail!(
            "a run over many files needs labels that travel with the documents: --classifier FILE, --endpoint URL \
             or --label-field FIELD"
        ),
        (None, None) => LabelSource::Annotations(&args.labels),
    };
    if scaled(&args) {
        return run_scaled(&args, &cfg, labels, counter);
    }
    let opts = RunOptions {
        strict: args.input_fields.strict,
        compress: args.zstd,
        fields: args.input_fields.fields(),
        max_doc_bytes: args.max_doc_bytes,
    };
    let pb = progress::spinner("transform");
    let m = run::transform(&CorpusDir::new(&args.input[0]), &args.out, &cfg, labels, &opts, counter, &mut |d, b| {
        progress::update_stream(&pb, d, b)
    })?;
    pb.finish_and_clear();
    let c = &m.counts;
    if c.docs_over_cap > 0 {
        eprintln!(
            "warning: {} document(s) over --max-doc-bytes {} were skipped (docs_over_cap)",
            c.docs_over_cap, args.max_doc_bytes
        );
    }
    warn_unannotated(c.transform.docs_unannotated);
    println!(
        "wrote {}: {} → {} documents; segments {} safe / {} unsafe; reflections {} safe / {} unsafe; \
token overhead {:.1}%; masked {:.1}% of bytes; {:.1} MB/s",
        args.out.display(),
        c.transform.docs_in,
        c.transform.docs_out,
        c.transform.segments_safe,
        c.transform.segments_unsafe_total(),
        c.transform.reflections_safe,
        c.transform.reflections_unsafe,
        100.0 * c.token_overhead,
        100.0 * c.masked_fraction,
        m.timing.mb_per_s,
    );
    Ok(())
}
