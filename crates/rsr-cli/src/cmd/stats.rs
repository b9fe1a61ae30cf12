//! `rsr stats merge`: combine the per-part stats of a scaled-out run.

use anyhow::Result;
use std::path::PathBuf;

#[derive(clap::Args)]
#[command(
    about = "Merge the per-part stats of a scaled-out transform into OUT/manifest.json",
    long_about = "Each rank of a scaled-out `rsr transform` writes, for every input file it finishes, a part and a \
completion marker with that part's counts. `rsr stats merge OUT` checks that every input file has its part, sums \
the counts (documents, segments per category, reflections, tokens, masked bytes, skipped records, over-long \
documents) and writes OUT/manifest.json, which `rsr pack` reads. It names the missing parts if some rank has not \
finished.",
    after_help = "Example:\n  rsr stats merge crawl-rsr && rsr pack --input crawl-rsr --tokenizer tok.json --out crawl-packed"
)]
pub struct Args {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(clap::Subcommand)]
enum Cmd {
    /// Sum every part's marker into DIR/manifest.json.
    #[command(
        long_about = "Check that every input file of a scaled-out `rsr transform --rank R --world-size N` run in DIR \
has a finished part, sum the parts' counts and write DIR/manifest.json (which `rsr pack` reads). Names the \
missing parts when some rank has not finished.",
        after_help = "Example:\n  rsr stats merge crawl-rsr"
    )]
    Merge {
        /// The --out directory of the scaled-out transform (holds parts/ and their markers).
        dir: PathBuf,
    },
}

pub fn run(args: Args) -> Result<()> {
    match args.cmd {
        Cmd::Merge { dir } => {
            let m = rsr_corpus::scale::merge_stats(&dir)?;
            println!("{}", serde_json::to_string_pretty(&m.counts)?);
            println!("wrote {}", dir.join("manifest.json").display());
        }
    }
    Ok(())
}
