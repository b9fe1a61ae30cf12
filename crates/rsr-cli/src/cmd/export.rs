//! `rsr export`: packed shards → the formats other trainers read.

use anyhow::Result;
use rsr_pack::export::Format;
use std::path::PathBuf;

#[derive(clap::Args)]
#[command(
    about = "Convert packed shards for Megatron-LM, OLMo-core or llm.c/nanoGPT",
    long_about = long_about(),
    after_help = "Examples:\n  rsr export --pack packed --format megatron --out packed/megatron"
)]
pub struct Args {
    /// The `rsr pack` output directory.
    #[arg(long)]
    pack: PathBuf,
    #[arg(long, value_enum)]
    format: Format,
    /// Output directory.
    #[arg(long)]
    out: PathBuf,
}

/// The formats and what each writes, from [`Format::ALL`].
fn long_about() -> String {
    let formats: String = Format::ALL.iter().map(|f| format!("\n  {:<9} {}", f.name(), f.layout())).collect();
    format!(
        "Convert the shards of an `rsr pack` directory (train and val):{formats}\n\nLayouts and numpy recipes: \
docs/formats.md#exports."
    )
}

pub fn run(args: Args) -> Result<()> {
    let format = args.format;
    let files = rsr_pack::export::export(&args.pack, &args.out, format)?;
    println!("wrote {} {} file(s) under {}", files.len(), format.name(), args.out.display());
    Ok(())
}
