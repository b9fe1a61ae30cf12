"""The datatrove steps against the real datatrove: a two-rank pipeline writes what the CLI writes,
and datatrove's own DocumentTokenizer turns RsrReflect's no_loss_ranges into rsr pack's mask."""

from __future__ import annotations

import json
import struct

import numpy as np
import pytest

from conftest import need  # noqa: E402

datatrove = need("datatrove", "RSR_REQUIRE_DATATROVE")
from datatrove.executor import LocalPipelineExecutor  # noqa: E402
from datatrove.pipeline.readers import JsonlReader  # noqa: E402
from datatrove.pipeline.tokens import DocumentTokenizer  # noqa: E402

import rsr  # noqa: E402
from conftest import read_jsonl, run  # noqa: E402
from rsr.datatrove import RsrFilter, RsrLabel, RsrPack, RsrReflect, RsrWriter  # noqa: E402


def docs_of(folder) -> dict[str, dict]:
    out = {}
    for part in sorted((folder / "parts").glob("part-*.jsonl*")):
        for d in read_jsonl(part):
            out[d["id"]] = d
    return out


def reader(inputs):
    return JsonlReader(str(inputs[0].parent), glob_pattern="*.jsonl", add_file_path=False)


def test_two_rank_pipeline_writes_what_the_cli_writes(inputs, classifier, tokenizer, rsr_bin, tmp_path):
    out = tmp_path / "dt"
    LocalPipelineExecutor(
        pipeline=[
            reader(inputs),
            RsrLabel(classifier=str(classifier)),
            RsrReflect(mode="rsr", every=24, safe_rate=0.5, scores=True),
            RsrWriter(str(out)),
        ],
        tasks=2,
        workers=2,
        logging_dir=str(tmp_path / "logs"),
    ).run()
    cli = tmp_path / "cli"
    for r in ("0", "1"):
        run(rsr_bin, "transform", "--mode", "rsr", "--input", *inputs, "--classifier", classifier, "--every", "24",
            "--safe-rate", "0.5", "--scores", "--out", cli, "--rank", r, "--world-size", "2")
    mine, theirs = docs_of(out), docs_of(cli)
    assert len(mine) == len(theirs) == 600
    for i, c in theirs.items():
        m = mine[i]
        assert (m["text"], m["masked"], m["inserted"]) == (c["text"], c["masked"], c["inserted"]), i
        assert [s[:2] for s in m["scores"]] == [s[:2] for s in c["scores"]], i
        assert all(abs(a[2] - b[2]) < 1e-6 for a, b in zip(m["scores"], c["scores"])), i
    assert sum(bool(c["masked"]) for c in theirs.values()) > 50  # the classifier found unsafe text
    merged = rsr.merge_parts(out)
    cli_manifest = json.loads((cli / "manifest.json").read_text())
    for k in ("docs_in", "docs_out", "reflections_safe", "reflections_unsafe", "masked_bytes", "text_tokens",
              "inserted_tokens", "segments_unsafe", "bytes_in"):
        assert merged["counts"][k] == cli_manifest["counts"][k], k
    assert merged["knobs"]["transform"] == cli_manifest["knobs"]["transform"]
    # RsrPack packs the parts as `rsr pack` packs the CLI's.
    LocalPipelineExecutor(pipeline=[RsrPack(str(out), str(tokenizer), str(tmp_path / "packed"), exports=("olmo",))],
                          tasks=1, logging_dir=str(tmp_path / "logs2")).run()
    run(rsr_bin, "pack", "--input", cli, "--tokenizer", tokenizer, "--out", tmp_path / "cli-packed")
    for split in ("train", "val"):
        # Parts are per rank here and per input file there: the same documents, in another order.
        a, b = (
            sorted(t.tobytes() + m.tobytes() for f in rsr.shards(tmp_path / d, split) for t, m in rsr.read_shard(f).docs())
            for d in ("packed", "cli-packed")
        )
        assert a == b and len(a) > 0
    assert (tmp_path / "packed" / "export" / "olmo").is_dir()


def read_datatrove_tokens(folder, token_bytes):
    ds = sorted(folder.glob("*.ds"))
    assert len(ds) == 1, ds
    fmt = "<u2" if token_bytes == 2 else "<u4"
    tokens = np.frombuffer(ds[0].read_bytes(), dtype=fmt)
    loss = np.frombuffer(ds[0].with_suffix(".ds.loss").read_bytes(), dtype=bool)
    index = np.frombuffer(ds[0].with_suffix(".ds.index").read_bytes(), dtype="<u8")
    return tokens, loss, index


def test_document_tokenizer_writes_rsr_packs_tokens_and_mask(world, tokenizer, rsr_bin, tmp_path):
    out = tmp_path / "tok"
    LocalPipelineExecutor(
        pipeline=[
            JsonlReader(str(world), glob_pattern="documents.jsonl", add_file_path=False, limit=300),
            RsrLabel(classifier=str(_classifier(world, rsr_bin))),
            RsrReflect(mode="rsr", every=24),
            DocumentTokenizer(str(out), tokenizer_name_or_path=str(tokenizer), eos_token="<|endoftext|>",
                              save_loss_metadata=True, shuffle_documents=False),
        ],
        tasks=1,
        logging_dir=str(tmp_path / "logs"),
    ).run()
    tokens, loss, ends = read_datatrove_tokens(out, 2)
    # The same documents through the CLI: transform, pack (everything in train, in order).
    head = tmp_path / "head"
    head.mkdir()
    (head / "documents.jsonl").write_text("".join((world / "documents.jsonl").read_text().splitlines(True)[:300]))
    run(rsr_bin, "transform", "--mode", "rsr", "--input", head, "--classifier", _classifier(world, rsr_bin),
        "--every", "24", "--out", tmp_path / "t")
    m = run(rsr_bin, "pack", "--input", tmp_path / "t", "--tokenizer", tokenizer, "--out", tmp_path / "p",
            "--val-fraction", "0")
    assert m.returncode == 0
    ours = [rsr.read_shard(f) for f in rsr.shards(tmp_path / "p", "train")]
    want_tokens = np.concatenate([s.tokens for s in ours])
    want_mask = np.concatenate([s.mask for s in ours])
    assert ends[-1] == len(tokens) == len(want_tokens)
    assert np.array_equal(tokens.astype(np.uint32), want_tokens)
    # rsr masks the end-of-text token never; datatrove trains on it too.
    assert np.array_equal(loss, want_mask)
    assert (~want_mask).sum() > 100  # masked text was there to compare


_CLF = {}


def _classifier(world, rsr_bin):
    if "p" not in _CLF:
        p = world.parent / "tok-test.rsrclf"
        run(rsr_bin, "classifier", "train", "--corpus", world, "--holdout", "0.2", "--out", p)
        _CLF["p"] = p
    return _CLF["p"]


def test_filter_step_drops_what_the_filter_transform_drops(world, classifier, rsr_bin, tmp_path):
    kept = []

    class Collect(RsrWriter):
        def run(self, data, rank=0, world_size=1):
            for d in data:
                kept.append(d.id)
                yield d

    LocalPipelineExecutor(
        pipeline=[
            JsonlReader(str(world), glob_pattern="documents.jsonl", add_file_path=False),
            RsrLabel(classifier=str(classifier)),
            RsrFilter(tau=0.5, every=24),
            Collect(str(tmp_path / "unused")),
        ],
        tasks=1,
        logging_dir=str(tmp_path / "logs"),
    ).run()
    run(rsr_bin, "transform", "--mode", "filter", "--input", world, "--classifier", classifier, "--every", "24",
        "--out", tmp_path / "cli")
    assert kept == [d["id"] for d in read_jsonl(tmp_path / "cli" / "documents.jsonl")]
    assert 0 < len(kept) < 600


def test_steps_fail_closed():
    with pytest.raises(rsr.RsrError, match="exactly one"):
        RsrLabel()
    with pytest.raises(rsr.RsrError, match="every must be at least 1"):
        RsrReflect(mode="rsr", every=0)
    f = RsrFilter()
    from datatrove.data import Document

    assert f.filter(Document(text="Anything at all.", id="x")) == (False, "rsr_unlabelled")
