//! Every export read back by a parser written from the consumer's published
//! layout — not with this crate's readers — and compared with the shards.

use rsr_pack::export::{export, split_shards, Format};
use rsr_pack::shard::{Dtype, Shard};
use std::path::Path;

fn le_u64(b: &[u8], o: usize) -> u64 {
    u64::from_le_bytes(b[o..o + 8].try_into().unwrap())
}
fn le_i32(b: &[u8], o: usize) -> i32 {
    i32::from_le_bytes(b[o..o + 4].try_into().unwrap())
}
fn le_i64(b: &[u8], o: usize) -> i64 {
    i64::from_le_bytes(b[o..o + 8].try_into().unwrap())
}

/// A pack directory with two shards per split, written through `Shard::write`.
fn pack_dir(dir: &Path, dtype: Dtype) -> Vec<Shard> {
    let mut all = Vec::new();
    for (split, n) in [("train", 2), ("val", 1)] {
        for k in 0..n {
            let mut s = Shard::new(dtype, 70_000);
            for d in 0..3u32 {
                let big = if dtype == Dtype::U32 { 69_000 } else { 60_000 };
                let toks: Vec<u32> =
                    (0..(4 + d + k as u32)).map(|i| if i == 1 { big } else { 10 * d + i + 5 }).chain([0]).collect();
                let mask: Vec<u8> = (0..toks.len()).map(|i| (i % 3 != 1) as u8).collect();
                s.push_doc(&toks, &mask);
            }
            std::fs::create_dir_all(dir.join(split)).unwrap();
            s.write(&dir.join(split).join(format!("shard_{k:05}.bin"))).unwrap();
            all.push(s);
        }
    }
    // The manifest `rsr pack` writes beside them: exports check the mask against its counts.
    let split = |ss: &[Shard]| rsr_pack::pack::SplitCounts {
        docs: ss.iter().map(|s| s.n_docs() as u64).sum(),
        tokens: ss.iter().map(|s| s.tokens.len() as u64).sum(),
        masked_tokens: ss.iter().map(|s| s.mask.iter().filter(|&&m| m == 0).count() as u64).sum(),
        shards: ss.len() as u64,
        ..Default::default()
    };
    let counts = rsr_pack::pack::PackCounts {
        splits: rsr_pack::pack::Splits { train: split(&all[..2]), val: split(&all[2..]) },
        records_skipped: 0,
        warnings: vec![],
        vocab_size: 70_000,
        special_ids: rsr_pack::tokenizer::SpecialIds {
            endoftext: 0,
            reflect_open: 1,
            reflect_close: 2,
            safe: 3,
            unsafe_: 4,
        },
        added_special_tokens: vec![],
    };
    let outcome: rsr_pack::pack::PackOutcome =
        rsr_core::manifest::Outcome::new("pack", vec![], serde_json::Value::Null, counts, Default::default());
    outcome.manifest.write(dir).unwrap();
    all
}

/// Megatron `MMapIndexedDataset` index, per megatron/core/datasets/indexed_dataset.py.
struct MegatronIndex {
    code: u8,
    lengths: Vec<i32>,
    pointers: Vec<i64>,
    doc_index: Vec<i64>,
}

fn read_megatron_idx(path: &Path) -> MegatronIndex {
    let b = std::fs::read(path).unwrap();
    assert_eq!(&b[0..9], b"MMIDIDX\x00\x00", "index header");
    assert_eq!(le_u64(&b, 9), 1, "index version");
    let code = b[17];
    let seqs = le_u64(&b, 18) as usize;
    let docs = le_u64(&b, 26) as usize;
    let mut o = 34;
    let lengths = (0..seqs).map(|i| le_i32(&b, o + 4 * i)).collect();
    o += 4 * seqs;
    let pointers = (0..seqs).map(|i| le_i64(&b, o + 8 * i)).collect();
    o += 8 * seqs;
    let doc_index = (0..docs).map(|i| le_i64(&b, o + 8 * i)).collect();
    o += 8 * docs;
    assert_eq!(o, b.len(), "no trailing bytes in the index");
    MegatronIndex { code, lengths, pointers, doc_index }
}

#[test]
fn megatron_indexed_dataset_and_mask_dataset() {
    for dtype in [Dtype::U16, Dtype::U32] {
        let dir = tempfile::tempdir().unwrap();
        let shards = pack_dir(dir.path(), dtype);
        let out = dir.path().join("megatron");
        export(dir.path(), &out, Format::Megatron).unwrap();
        let train: Vec<&Shard> = shards[..2].iter().collect();
        let idx = read_megatron_idx(&out.join("train_text_document.idx"));
        let (item, code) = if dtype == Dtype::U16 { (2, 8) } else { (4, 4) }; // uint16 = 8, int32 = 4
        assert_eq!(idx.code, code);
        let bin = std::fs::read(out.join("train_text_document.bin")).unwrap();
        let docs: Vec<(&[u32], &[u8])> = train.iter().flat_map(|s| (0..s.n_docs()).map(move |i| s.doc(i))).collect();
        assert_eq!(idx.lengths.len(), docs.len());
        assert_eq!(idx.doc_index, (0..=docs.len() as i64).collect::<Vec<_>>());
        for (i, (toks, _)) in docs.iter().enumerate() {
            assert_eq!(idx.lengths[i] as usize, toks.len());
            let p = idx.pointers[i] as usize;
            let got: Vec<u32> = (0..toks.len())
                .map(|j| {
                    if item == 2 {
                        u16::from_le_bytes([bin[p + 2 * j], bin[p + 2 * j + 1]]) as u32
                    } else {
                        le_i32(&bin, p + 4 * j) as u32
                    }
                })
                .collect();
            assert_eq!(&got, toks);
        }
        let midx = read_megatron_idx(&out.join("train_mask_document.idx"));
        assert_eq!(midx.code, 1, "uint8");
        let mbin = std::fs::read(out.join("train_mask_document.bin")).unwrap();
        for (i, (_, mask)) in docs.iter().enumerate() {
            let p = midx.pointers[i] as usize;
            assert_eq!(&mbin[p..p + midx.lengths[i] as usize], *mask);
        }
    }
}

#[test]
fn olmo_token_and_label_mask_memmaps() {
    let dir = tempfile::tempdir().unwrap();
    let shards = pack_dir(dir.path(), Dtype::U32);
    let out = dir.path().join("olmo");
    export(dir.path(), &out, Format::Olmo).unwrap();
    for (k, s) in shards[..2].iter().enumerate() {
        // Flat little-endian uint32 ids, no header; bool mask, one byte per token.
        let ids = std::fs::read(out.join(format!("train/part-{k:05}.npy"))).unwrap();
        let got: Vec<u32> = ids.chunks_exact(4).map(|c| u32::from_le_bytes(c.try_into().unwrap())).collect();
        assert_eq!(got, s.tokens);
        let mask = std::fs::read(out.join(format!("train/label-mask-{k:05}.npy"))).unwrap();
        assert_eq!(mask, s.mask);
    }
}

#[test]
fn llmc_bin_with_its_header_and_a_mask_sidecar() {
    let dir = tempfile::tempdir().unwrap();
    let shards = pack_dir(dir.path(), Dtype::U16);
    let out = dir.path().join("llmc");
    export(dir.path(), &out, Format::Llmc).unwrap();
    let b = std::fs::read(out.join("val_000000.bin")).unwrap();
    // 256 int32 header: magic 20240520, version 1, number of tokens.
    assert_eq!(le_i32(&b, 0), 20240520);
    assert_eq!(le_i32(&b, 4), 1);
    let n = le_i32(&b, 8) as usize;
    assert!((3..256).all(|i| le_i32(&b, 4 * i) == 0));
    assert_eq!(b.len(), 1024 + 2 * n);
    let toks: Vec<u32> = b[1024..].chunks_exact(2).map(|c| u16::from_le_bytes([c[0], c[1]]) as u32).collect();
    assert_eq!(toks, shards[2].tokens);
    assert_eq!(std::fs::read(out.join("val_000000.mask.bin")).unwrap(), shards[2].mask);

    // uint32 packs cannot become version-1 llm.c files.
    let dir = tempfile::tempdir().unwrap();
    pack_dir(dir.path(), Dtype::U32);
    let err = export(dir.path(), &dir.path().join("x"), Format::Llmc).unwrap_err().to_string();
    assert!(err.contains("uint16") && err.contains("HINT"), "{err}");
    assert_eq!(split_shards(dir.path(), "train").unwrap().len(), 2);
}
