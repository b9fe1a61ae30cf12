"""Read an rsr pack directory and its exports with numpy, each by its
consumer's published layout, and check they agree token for token.

    python3 tests/python/read_exports.py PACK_DIR MEGATRON_DIR OLMO_DIR LLMC_DIR

The rsr shards are read with the one-line recipe from docs/formats.md.
"""
import glob
import os
import sys
import zlib

import numpy as np


def read_rsr_shard(p):
    # The documented recipe.
    b = np.fromfile(p, np.uint8); n, w = int(b[16:24].view(np.uint64)[0]), int(b[12:16].view(np.uint32)[0]); tokens = b[64:64+n*w].view(np.uint16 if w == 2 else np.uint32); mask = b[64+n*w:64+n*w+n]
    assert bytes(b[:8]) == b"RSRSHARD", p
    # Version 2: the CRC-32 of everything after the header, as zlib computes it.
    assert int(b[8:12].view(np.uint32)[0]) == 2, p
    assert zlib.crc32(b[64:].tobytes()) == int(b[36:40].view(np.uint32)[0]), f"{p}: checksum"
    docs = int(b[24:32].view(np.uint64)[0])
    offsets = b[64 + n * w + n:].view(np.uint64)
    assert len(offsets) == docs + 1 and offsets[-1] == n, p
    return tokens.astype(np.int64), mask.astype(np.uint8), offsets, w


def read_megatron(prefix):
    # megatron/core/datasets/indexed_dataset.py, _IndexReader
    codes = {1: np.uint8, 4: np.int32, 8: np.uint16}
    with open(prefix + ".idx", "rb") as f:
        assert f.read(9) == b"MMIDIDX\x00\x00"
        assert np.frombuffer(f.read(8), np.uint64)[0] == 1
        dtype = codes[f.read(1)[0]]
        seqs = int(np.frombuffer(f.read(8), np.uint64)[0])
        docs = int(np.frombuffer(f.read(8), np.uint64)[0])
        offset = f.tell()
    idx = np.memmap(prefix + ".idx", mode="r", order="C")
    lengths = np.frombuffer(idx, np.int32, seqs, offset)
    pointers = np.frombuffer(idx, np.int64, seqs, offset + lengths.nbytes)
    doc_index = np.frombuffer(idx, np.int64, docs, offset + lengths.nbytes + pointers.nbytes)
    assert doc_index[0] == 0 and doc_index[-1] == seqs
    data = np.memmap(prefix + ".bin", mode="r", order="C")
    return [np.frombuffer(data, dtype, int(l), int(p)).astype(np.int64) for l, p in zip(lengths, pointers)]


def main(pack, megatron, olmo, llmc):
    checked = 0
    for split in ["train", "val"]:
        shards = sorted(glob.glob(os.path.join(pack, split, "shard_*.bin")))
        rsr = [read_rsr_shard(p) for p in shards]
        docs = [(t[o[i]:o[i + 1]], m[o[i]:o[i + 1]]) for t, m, o, _ in rsr for i in range(len(o) - 1)]

        meg_tok = read_megatron(os.path.join(megatron, f"{split}_text_document"))
        meg_mask = read_megatron(os.path.join(megatron, f"{split}_mask_document"))
        assert len(meg_tok) == len(docs) == len(meg_mask)
        for (t, m), mt, mm in zip(docs, meg_tok, meg_mask):
            assert np.array_equal(t, mt) and np.array_equal(m, mm)

        for k, (t, m, _, w) in enumerate(rsr):
            dtype = np.uint16 if w == 2 else np.uint32
            ot = np.memmap(os.path.join(olmo, split, f"part-{k:05d}.npy"), dtype=dtype, mode="r")
            om = np.memmap(os.path.join(olmo, split, f"label-mask-{k:05d}.npy"), dtype=np.bool_, mode="r")
            assert np.array_equal(ot.astype(np.int64), t) and np.array_equal(om.astype(np.uint8), m)

            header = np.fromfile(os.path.join(llmc, f"{split}_{k:06d}.bin"), dtype=np.int32, count=256)
            assert header[0] == 20240520 and header[1] == 1 and header[2] == len(t)
            lt = np.fromfile(os.path.join(llmc, f"{split}_{k:06d}.bin"), dtype=np.uint16, offset=256 * 4)
            lm = np.fromfile(os.path.join(llmc, f"{split}_{k:06d}.mask.bin"), dtype=np.uint8)
            assert np.array_equal(lt.astype(np.int64), t) and np.array_equal(lm, m)
        checked += len(docs)
    print(f"numpy read {checked} documents from rsr shards, Megatron, OLMo and llm.c exports: all agree")


if __name__ == "__main__":
    main(*sys.argv[1:5])
