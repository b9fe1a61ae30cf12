//! `rsr probe`: the model as a safety classifier — P(unsafe) for each text.

use anyhow::Result;
use rsr_core::doc::{DocFields, DocReader};
use rsr_core::jsonl::{JsonlWriter, SoftErrors};
use rsr_decode::Loaded;
use std::path::PathBuf;

#[derive(clap::Args)]
#[command(
    about = "Score texts with the model's own safety reflection: P(unsafe)",
    long_about = "For each text, feed it followed by <|reflect|> and read the probability the model gives the \
`unsafe` verdict against the `safe` one (each scored token by token). A model trained with reflections is a \
safety classifier; this is how its accuracy and AUROC are measured.\n\n\
Input: JSONL with an id and a text field (documents, held-out SafetyWorld documents, anything). Output: JSONL \
{\"id\", \"score\"}.",
    after_help = "Examples:\n  rsr probe --model CKPT --input world/heldout/documents.jsonl --out scores.jsonl"
)]
pub struct Args {
    /// Checkpoint directory (config.json, model.safetensors, tokenizer.json), as `rsr train` writes.
    #[arg(long)]
    model: PathBuf,
    /// JSONL (.jsonl, .jsonl.gz, .jsonl.zst) of texts to score, one record per text.
    #[arg(long)]
    input: PathBuf,
    /// Where to write {"id", "score"} per input record (JSONL).
    #[arg(long)]
    out: PathBuf,
    /// Field of each input record holding the text.
    #[arg(long, default_value = "text")]
    text_field: String,
    /// Field of each input record holding its id (copied to the output).
    #[arg(long, default_value = "id")]
    id_field: String,
}

#[derive(serde::Serialize)]
struct Score<'a> {
    id: &'a str,
    score: f32,
}

pub fn run(args: Args) -> Result<()> {
    rsr_core::atomic::check_out_apart(&args.input, &args.out)?;
    rsr_core::atomic::check_out_apart(&args.model, &args.out)?;
    let m = Loaded::from_dir(&args.model)?;
    let mut soft = SoftErrors::new(false);
    let mut w = JsonlWriter::create(&args.out)?;
    let t0 = std::time::Instant::now();
    let mut n = 0;
    for r in DocReader::open(
        &args.input,
        DocFields { id: args.id_field.clone(), text: args.text_field.clone(), generate_ids: None },
    )? {
        let Some(doc) = soft.check(r)? else { continue };
        w.write(&Score { id: &doc.id, score: m.probe(&doc.text)? })?;
        n += 1;
    }
    w.finish()?;
    println!("scored {n} texts ({:.1} texts/s) → {}", n as f64 / t0.elapsed().as_secs_f64(), args.out.display());
    Ok(())
}
