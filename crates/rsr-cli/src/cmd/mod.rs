//! One module per subcommand. Each defines `Args` (the CLI surface, with help
//! text and examples) and `run(args)`, which validates and calls the library.

pub mod annotate;
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

/// The `endpoint` annotator: a Llama Guard-style judge at `url` (…/v1) on every sentence.
pub fn guard_annotator(
    url: &str,
    model: &str,
    requests_per_s: f64,
    fallback: rsr_core::taxonomy::Category,
) -> rsr_core::Result<rsr_remote::guard::GuardAnnotator> {
    Ok(rsr_remote::guard::Guard {
        client: rsr_remote::ChatClient::new(url, None, requests_per_s, std::time::Duration::from_secs(120))?,
        model: model.to_string(),
        fallback,
    }
    .annotator())
}

/// A trained classifier (`hashed` or `minilm`, told apart by its file) on every sentence.
pub fn classifier_annotator(
    path: &std::path::Path,
    minilm_dir: Option<&std::path::Path>,
    threshold: f32,
    fallback: rsr_core::taxonomy::Category,
) -> rsr_core::Result<Box<dyn rsr_corpus::annotator::Annotator>> {
    let scorer = rsr_embed::annotator::load_scorer(path, minilm_dir)?;
    Ok(Box::new(rsr_corpus::annotator::SentenceAnnotator { scorer, threshold, fallback }))
}
