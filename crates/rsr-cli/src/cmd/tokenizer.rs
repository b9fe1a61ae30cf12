//! `rsr tokenizer train`: a byte-level BPE with the reflection special tokens.

use anyhow::Result;
use rsr_core::corpus::CorpusDir;
use rsr_core::doc::{DocFields, DocReader};
use rsr_core::jsonl::SoftErrors;
use rsr_pack::tokenizer::RsrTokenizer;
use std::path::PathBuf;

#[derive(clap::Args)]
#[command(about = "Train a tokenizer (byte-level BPE) with the rsr special tokens")]
pub struct Args {
    #[command(subcommand)]
    cmd: Sub,
}

#[derive(clap::Subcommand)]
enum Sub {
    #[command(
        about = "Train a byte-level BPE on a corpus's documents",
        long_about = "Train a byte-level BPE (Hugging Face `tokenizers`) on the text of a corpus directory and \
save it as tokenizer.json. The special tokens <|endoftext|>, <|reflect|>, <|/reflect|>, <|safe|>, <|unsafe|> \
are registered as special tokens with ids 0–4; literal occurrences of them in the training text are ignored.\n\n\
Any other Hugging Face tokenizer.json works wherever --tokenizer is taken; missing special tokens are added \
and recorded in the manifest of the stage that used it.",
        after_help = "Examples:\n  rsr tokenizer train --input world --vocab-size 2048 --out world/tokenizer.json"
    )]
    Train {
        /// Corpus directory (or documents JSONL) whose text to learn from.
        #[arg(long)]
        input: PathBuf,
        /// Vocabulary size, special tokens and the 256 byte tokens included.
        #[arg(long, default_value_t = 2048)]
        vocab_size: usize,
        /// Only merge pairs seen at least this often.
        #[arg(long, default_value_t = 2)]
        min_frequency: u64,
        /// Where to write tokenizer.json.
        #[arg(long)]
        out: PathBuf,
    },
}

pub fn run(args: Args) -> Result<()> {
    match args.cmd {
        Sub::Train { input, vocab_size, min_frequency, out } => {
            let path = CorpusDir::new(&input).documents()?;
            let mut soft = SoftErrors::new(false);
            let mut texts = Vec::new();
            for r in DocReader::open(&path, DocFields::default())? {
                if let Some(d) = soft.check(r)? {
                    texts.push(d.text);
                }
            }
            let tok = RsrTokenizer::train(texts.iter(), vocab_size, min_frequency)?;
            tok.save(&out)?;
            let sp = &tok.special;
            println!(
                "wrote {}: vocabulary {} trained on {} documents\nspecial tokens: <|endoftext|> {}, <|reflect|> {}, \
                 <|/reflect|> {}, <|safe|> {}, <|unsafe|> {}",
                out.display(),
                tok.vocab_size(),
                texts.len(),
                sp.endoftext,
                sp.reflect_open,
                sp.reflect_close,
                sp.safe,
                sp.unsafe_
            );
            Ok(())
        }
    }
}
