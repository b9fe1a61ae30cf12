//! Exports of packed shards for the trainers people use. Each writer follows
//! the reader's published layout; `tests/exports.rs` reads every file back
//! with an independent parser written from those specs, and CI also reads
//! them with numpy (`tests/python/read_exports.py`).
//!
//! - **Megatron-LM** indexed dataset (`megatron/core/datasets/indexed_dataset.py`):
//!   `PREFIX.bin` holds the tokens; `PREFIX.idx` = `b"MMIDIDX\x00\x00"`, u64
//!   version 1, u8 dtype code (uint8 = 1, int32 = 4, uint16 = 8), u64 sequence
//!   count, u64 document count (= sequences + 1), int32 sequence lengths,
//!   int64 byte pointers, int64 document indices. One sequence per document.
//!   The loss mask is a second indexed dataset, `PREFIX_mask`, of uint8.
//! - **OLMo-core**: flat numpy memmaps without a header (`np.memmap(path,
//!   dtype=...)`): token ids (uint16/uint32) and a bool label mask per token
//!   (`label_mask_paths`), one pair per shard.
//! - **llm.c / nanoGPT**: a 256 × int32 header (magic 20240520, version 1,
//!   token count) then uint16 tokens; llm.c has no loss mask, so a raw uint8
//!   `*.mask.bin` sidecar (one byte per token) is written beside it.

use crate::shard::{Dtype, Shard};
use rsr_core::atomic::AtomicFile;
use rsr_core::{Error, Result};
use std::io::Write;
use std::path::{Path, PathBuf};

#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Megatron,
    Olmo,
    Llmc,
}

impl Format {
    pub const ALL: [Format; 3] = [Format::Megatron, Format::Olmo, Format::Llmc];

    pub fn name(self) -> &'static str {
        match self {
            Format::Megatron => "megatron",
            Format::Olmo => "olmo",
            Format::Llmc => "llmc",
        }
    }

    /// What it writes per split, in one line (`rsr export --help` lists these).
    pub fn layout(self) -> &'static str {
        match self {
            Format::Megatron => {
                "{split}_text_document.bin/.idx (MMIDIDX v1) + {split}_mask_document.bin/.idx (uint8 loss mask)"
            }
            Format::Olmo => {
                "{split}/part-NNNNN.npy token memmaps + {split}/label-mask-NNNNN.npy bool memmaps (label_mask_paths)"
            }
            Format::Llmc => {
                "{split}_NNNNNN.bin (256×int32 header, magic 20240520, v1, uint16) + .mask.bin (uint8, our sidecar)"
            }
        }
    }
}

pub const MEGATRON_MAGIC: &[u8; 9] = b"MMIDIDX\x00\x00";
pub const LLMC_MAGIC: i32 = 20240520;

/// The shards of one split, in order.
pub fn split_shards(pack_dir: &Path, split: &str) -> Result<Vec<PathBuf>> {
    let dir = pack_dir.join(split);
    let mut shards: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map_err(|e| Error::io(&dir, e))?
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with("shard_") && n.ends_with(".bin"))
        })
        .collect();
    shards.sort();
    Ok(shards)
}

fn write_file(path: &Path, parts: &[&[u8]]) -> Result<()> {
    let mut f = AtomicFile::create(path)?;
    for p in parts {
        f.write_all(p).map_err(|e| Error::io(path, e))?;
    }
    f.commit()
}

fn tokens_le(tokens: &[u32], dtype: Dtype) -> Vec<u8> {
    match dtype {
        Dtype::U16 => tokens.iter().flat_map(|&t| (t as u16).to_le_bytes()).collect(),
        Dtype::U32 => tokens.iter().flat_map(|&t| t.to_le_bytes()).collect(),
    }
}

/// One Megatron indexed dataset (`prefix.bin` + `prefix.idx`) from
/// per-document byte payloads of `item` bytes per element.
fn megatron_dataset(prefix: &Path, docs: &[Vec<u8>], item: usize, code: u8) -> Result<()> {
    let mut bin = Vec::new();
    let mut lengths = Vec::with_capacity(docs.len() * 4);
    let mut pointers = Vec::with_capacity(docs.len() * 8);
    for d in docs {
        pointers.extend_from_slice(&(bin.len() as i64).to_le_bytes());
        lengths.extend_from_slice(&((d.len() / item) as i32).to_le_bytes());
        bin.extend_from_slice(d);
    }
    let doc_index: Vec<u8> = (0..=docs.len() as i64).flat_map(|i| i.to_le_bytes()).collect();
    let mut header = Vec::new();
    header.extend_from_slice(MEGATRON_MAGIC);
    header.extend_from_slice(&1u64.to_le_bytes());
    header.push(code);
    header.extend_from_slice(&(docs.len() as u64).to_le_bytes());
    header.extend_from_slice(&(docs.len() as u64 + 1).to_le_bytes());
    write_file(&prefix.with_extension("bin"), &[&bin])?;
    write_file(&prefix.with_extension("idx"), &[&header, &lengths, &pointers, &doc_index])
}

/// Export every split of a pack directory to `out` in `format`. Returns the files written.
pub fn export(pack_dir: &Path, out: &Path, format: Format) -> Result<Vec<PathBuf>> {
    let mut written = Vec::new();
    for split in crate::pack::SPLITS {
        let shards = split_shards(pack_dir, split)?;
        // The loss mask as `rsr pack` counted it, before anything is written (as `rsr train`
        // checks): an export never carries a mask rewritten after packing.
        let mut tally = crate::pack::MaskTally::default();
        for p in &shards {
            tally.add(&Shard::read(p)?.mask);
        }
        crate::pack::check_against_manifest(pack_dir, split, tally)?;
        match format {
            Format::Megatron => {
                let (mut tok_docs, mut mask_docs, mut dtype) = (Vec::new(), Vec::new(), Dtype::U16);
                for p in &shards {
                    let s = Shard::read(p)?;
                    dtype = s.dtype;
                    for i in 0..s.n_docs() {
                        let (t, m) = s.doc(i);
                        tok_docs.push(tokens_le(t, s.dtype));
                        mask_docs.push(m.to_vec());
                    }
                }
                // Megatron has no uint32 code; int32 holds any real vocabulary.
                let (item, code) = match dtype {
                    Dtype::U16 => (2, 8),
                    Dtype::U32 => (4, 4),
                };
                let prefix = out.join(format!("{split}_text_document"));
                megatron_dataset(&prefix, &tok_docs, item, code)?;
                let mask_prefix = out.join(format!("{split}_mask_document"));
                megatron_dataset(&mask_prefix, &mask_docs, 1, 1)?;
                for p in [&prefix, &mask_prefix] {
                    written.push(p.with_extension("bin"));
                    written.push(p.with_extension("idx"));
                }
            }
            Format::Olmo => {
                for (i, p) in shards.iter().enumerate() {
                    let s = Shard::read(p)?;
                    let tok = out.join(split).join(format!("part-{i:05}.npy"));
                    let mask = out.join(split).join(format!("label-mask-{i:05}.npy"));
                    write_file(&tok, &[&tokens_le(&s.tokens, s.dtype)])?;
                    write_file(&mask, &[&s.mask])?;
                    written.extend([tok, mask]);
                }
            }
            Format::Llmc => {
                for (i, p) in shards.iter().enumerate() {
                    let s = Shard::read(p)?;
                    if s.dtype != Dtype::U16 {
                        return Err(Error::input(
                            p,
                            "llm.c's version-1 .bin holds uint16 tokens, but this pack uses uint32",
                            "re-run `rsr pack` with a vocabulary of at most 65536, or export to megatron/olmo",
                        ));
                    }
                    let mut header = [0i32; 256];
                    header[0] = LLMC_MAGIC;
                    header[1] = 1;
                    header[2] = i32::try_from(s.tokens.len()).map_err(|_| {
                        Error::input(
                            p,
                            "more than 2^31 tokens in one shard",
                            "re-run `rsr pack` with a smaller --shard-tokens",
                        )
                    })?;
                    let header: Vec<u8> = header.iter().flat_map(|h| h.to_le_bytes()).collect();
                    let bin = out.join(format!("{split}_{i:06}.bin"));
                    let mask = out.join(format!("{split}_{i:06}.mask.bin"));
                    write_file(&bin, &[&header, &tokens_le(&s.tokens, Dtype::U16)])?;
                    write_file(&mask, &[&s.mask])?;
                    written.extend([bin, mask]);
                }
            }
        }
    }
    Ok(written)
}
