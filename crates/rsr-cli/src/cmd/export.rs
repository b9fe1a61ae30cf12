//! `rsr export`: packed shards → the formats other trainers read.

use anyhow::Result;
use rsr_pack::export::Format;
use std::path::PathBuf;

#[derive(clap::Args)]
#[command(
    about = "Convert packed shards for Megatron-LM, OLMo-core or llm.c/nanoGPT",
    long_about = "Convert the shards of an `rsr pack` directory (train and val):\n  \
megatron  {split}_text_document.bin/.idx (MMIDIDX v1) + {split}_mask_document.bin/.idx (uint8 loss mask)\n  \
olmo      {split}/part-NNNNN.npy token memmaps + {split}/label-mask-NNNNN.npy bool memmaps (label_mask_paths)\n  \
llmc      {split}_NNNNNN.bin (256×int32 header, magic 20240520, v1, uint16) + .mask.bin (uint8, our sidecar)\n\n\
Layouts and numpy recipes: docs/formats.md#exports.",
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

pub fn run(args: Args) -> Result<()> {
    let format = args.format;
    let files = rsr_pack::export::export(&args.pack, &args.out, format)?;
    println!("wrote {} {} file(s) under {}", files.len(), format.name(), args.out.display());
    Ok(())
}
