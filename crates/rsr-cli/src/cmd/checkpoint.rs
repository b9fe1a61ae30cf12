//! `rsr checkpoint seal`: re-seal a checkpoint after a deliberate edit.

use anyhow::Result;
use std::path::PathBuf;

#[derive(clap::Args)]
#[command(
    about = "Re-seal a checkpoint after a deliberate edit (every load verifies the seal)",
    long_about = "A checkpoint written by `rsr train` is sealed: checksums.json, written last, holds the sha256 of \
model.safetensors, config.json, tokenizer.json, state.json and optimizer.safetensors, and every command that \
loads it verifies them — a flipped bit in a weight, a tokenizer whose reflection tokens were swapped, a state.json \
with another cadence or safe rate are refused, naming the file.\n\n\
`rsr checkpoint seal DIR` accepts the files as they now are: use it only for an edit you mean (a checkpoint from an \
rsr older than the seal, a config you changed on purpose). It says what it sealed.",
    after_help = "Examples:\n  rsr checkpoint seal runs/rsr/checkpoints/step-0000366"
)]
pub struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Subcommand)]
enum Command {
    /// Write DIR/checksums.json from the files as they are now.
    Seal {
        /// The checkpoint directory.
        dir: PathBuf,
    },
    /// Check DIR against its seal (what every load does), and say so.
    Verify {
        /// The checkpoint directory.
        dir: PathBuf,
    },
}

pub fn run(args: Args) -> Result<()> {
    match args.command {
        Command::Seal { dir } => {
            let was = rsr_model::checkpoint::verify(&dir).is_ok();
            let files = rsr_model::checkpoint::seal(&dir)?;
            if was {
                println!("{}: already sealed and unchanged; re-sealed {} file(s)", dir.display(), files.len());
            } else {
                println!(
                    "{}: SEALED AS IT NOW IS ({}): loads will accept these files from now on",
                    dir.display(),
                    files.join(", ")
                );
            }
        }
        Command::Verify { dir } => {
            rsr_model::checkpoint::verify(&dir)?;
            println!("{}: every file matches its seal", dir.display());
        }
    }
    Ok(())
}
