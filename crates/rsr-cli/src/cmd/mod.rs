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
