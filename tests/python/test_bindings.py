"""The bindings call the library the CLI calls: same transforms, same judge, same shards, the
CLI's errors as exceptions, character offsets on the Python side."""

from __future__ import annotations

import json

import numpy as np
import pytest

import rsr
from conftest import read_jsonl, run

KNOBS = dict(every=24, safe_rate=0.5, seed=3)


def test_transform_equals_the_cli_document_for_document(world, rsr_bin, tmp_path):
    out = tmp_path / "cli"
    run(rsr_bin, "transform", "--mode", "rsr", "--input", world, "--out", out, "--every", "24", "--safe-rate", "0.5",
        "--seed", "3")
    cli = read_jsonl(out / "documents.jsonl")
    ann = {a["id"]: a["spans"] for a in read_jsonl(world / "annotations" / "ground_truth.jsonl")}
    t = rsr.Transform("rsr", **KNOBS)
    docs = read_jsonl(world / "documents.jsonl")
    assert len(cli) == len(docs)
    for d, c in zip(docs, cli):
        o = t(d["text"], ann[d["id"]], id=d["id"])  # ASCII world: characters are bytes
        assert (o.id, o.text, [list(r) for r in o.masked], [list(r) for r in o.inserted]) == (
            c["id"], c["text"], c["masked"], c["inserted"]
        )
    manifest = json.loads((out / "manifest.json").read_text())
    for k in ("docs_in", "reflections_safe", "reflections_unsafe", "masked_bytes", "segments_safe"):
        assert t.counts[k] == manifest["counts"][k], k
    assert t.config["every"] == 24 and t.config["mode"] == "rsr"


def test_offsets_are_characters_in_non_ascii_text():
    text = "Ça va très bien. Kill them all now, señor. A fine day in Zürich."
    start = text.index("Kill")
    end = text.index("señor.") + len("señor.")
    t = rsr.Transform("rsr", every=3)  # one sentence per segment
    o = t(text, [{"start": start, "end": end, "label": "unsafe", "category": "violent-crimes"}])
    assert [o.text[a:b] for a, b in o.masked] == ["Kill them all now, señor."]
    assert all(o.text[a:b].startswith("<|reflect|>") for a, b in o.inserted)
    # Deleting the inserted ranges gives the input back.
    kept, pos = [], 0
    for a, b in o.inserted:
        kept.append(o.text[pos:a])
        pos = b
    assert "".join(kept) + o.text[pos:] == text
    segs = rsr.segments(text, 3)
    assert [text[a:b] for a, b in segs] == ["Ça va très bien.", "Kill them all now, señor.", "A fine day in Zürich."]


def test_mask_answer_keeps_the_request_trainable():
    text = "User: How do I make gorse gas to hurt him?\nAssistant: Gorse gas is made from lume. Heat the lume."
    spans = [{"start": 0, "end": len(text), "label": "unsafe", "category": "violent-crimes"}]
    every = rsr.Transform("rsr", every=3)(text, spans)
    answer = rsr.Transform("rsr", every=3, mask="answer")(text, spans)
    assert every.text == answer.text
    masked = "".join(answer.text[a:b] for a, b in answer.masked)
    assert "How do I make" not in masked and "Gorse gas is made from lume." in masked
    assert "How do I make" in "".join(every.text[a:b] for a, b in every.masked)


def test_errors_carry_the_cli_messages(tmp_path):
    with pytest.raises(rsr.RsrError, match="every must be at least 1"):
        rsr.Transform("rsr", every=0)
    with pytest.raises(rsr.RsrError, match="unknown variant `nope`"):
        rsr.Transform("nope")
    with pytest.raises(rsr.RsrError, match="past the end"):
        rsr.Transform("rsr")("short", [{"start": 0, "end": 99, "label": "unsafe", "category": "hate"}])
    bad = tmp_path / "bad.rsrclf"
    bad.write_text("not a classifier")
    with pytest.raises(rsr.RsrError, match=str(bad)):
        rsr.Annotator.classifier(bad)
    with pytest.raises(rsr.RsrError, match="world.json"):
        rsr.World(tmp_path)


def test_literal_special_tokens_in_input_are_neutralised():
    o = rsr.Transform("raw")("a text that spells <|reflect|> itself.")
    assert "<|reflect|>" not in o.text


def test_classifier_labels_like_the_cli(world, classifier, rsr_bin, tmp_path):
    ann = rsr.Annotator.classifier(classifier)
    assert ann.describe()["annotator"] == "hashed"
    out = tmp_path / "cli"
    run(rsr_bin, "transform", "--mode", "rsr", "--input", world, "--out", out, "--every", "24", "--classifier",
        classifier)
    t = rsr.Transform("rsr", every=24)
    for d, c in list(zip(read_jsonl(world / "documents.jsonl"), read_jsonl(out / "documents.jsonl")))[:200]:
        o = t(d["text"], ann.annotate(d["text"]), id=d["id"])
        assert (o.text, [list(r) for r in o.masked]) == (c["text"], c["masked"])


def test_world_prompts_and_judge(world):
    w = rsr.World(world)
    names = {s["name"] for s in rsr.prompt_sets()}
    assert {"harmful_direct", "benign", "harmful_composed"} <= names
    p = w.prompts("harmful_direct")[0]
    steps = " ".join(f"Then {s}." for s in p["harm_steps"])
    assert w.judge(p, steps)["delivered_harm"] is True
    assert w.judge(p, "I will not help with that.")["delivered_harm"] is False
    with pytest.raises(rsr.RsrError, match="no prompt set"):
        w.prompts("nope")


def test_pack_shards_and_dataset(world, tokenizer, tmp_path, rsr_bin):
    out = tmp_path / "t"
    run(rsr_bin, "transform", "--mode", "rsr", "--input", world, "--out", out, "--every", "24")
    m = rsr.pack(out, tokenizer, tmp_path / "p", val_fraction=0.1)
    run(rsr_bin, "pack", "--input", out, "--tokenizer", tokenizer, "--out", tmp_path / "cli", "--val-fraction", "0.1")
    for split in ("train", "val"):
        mine = [rsr.read_shard(f) for f in rsr.shards(tmp_path / "p", split)]
        theirs = [rsr.read_shard(f) for f in rsr.shards(tmp_path / "cli", split)]
        for a, b in zip(mine, theirs):
            assert np.array_equal(a.tokens, b.tokens) and np.array_equal(a.mask, b.mask)
    assert m["counts"]["splits"]["train"]["mask_sha256"]
    ids = rsr.special_ids(tokenizer)
    s = rsr.read_shard(rsr.shards(tmp_path / "p")[0])
    assert s.tokens.dtype == np.uint32 and s.mask.dtype == bool
    assert int(s.tokens[int(s.doc_offsets[1]) - 1]) == ids["endoftext"]
    ds = rsr.PackedDataset(tmp_path / "p", "train", seq_len=32)
    item = ds[0]
    labels = np.asarray(item["labels"])
    ids0 = np.asarray(item["input_ids"])
    assert len(ds) == len(ds.tokens) // 32 and ids0.shape == (32,)
    assert ((labels == -100) == ~ds.mask[:32]).all()
    # A damaged shard is refused, never read silently.
    shard = rsr.shards(tmp_path / "p")[0]
    raw = bytearray(shard.read_bytes())
    raw[-9] ^= 1
    shard.write_bytes(bytes(raw))
    with pytest.raises(rsr.RsrError):
        rsr.PackedDataset(tmp_path / "p", "train", seq_len=32)
    exported = rsr.export(tmp_path / "cli", "megatron", tmp_path / "mg")
    assert any(str(p).endswith(".idx") for p in exported)


def test_scores_let_a_trainer_choose_its_threshold(world, tokenizer, rsr_bin, tmp_path):
    t = tmp_path / "t"
    run(rsr_bin, "transform", "--mode", "rsr", "--input", world, "--out", t, "--every", "24", "--scores")
    run(rsr_bin, "pack", "--input", t, "--tokenizer", tokenizer, "--out", tmp_path / "p", "--scores",
        "--val-fraction", "0")
    # The same scores from Python's transform as in the CLI's records.
    cli = read_jsonl(t / "documents.jsonl")
    ann = {a["id"]: a["spans"] for a in read_jsonl(world / "annotations" / "ground_truth.jsonl")}
    d = read_jsonl(world / "documents.jsonl")[0]
    mine = rsr.Transform("rsr", every=24, scores=True)(d["text"], ann[d["id"]], id=d["id"])
    assert [list(r) for r in mine.scores] == cli[0]["scores"]
    shard = rsr.shards(tmp_path / "p")[0]
    scores = rsr.read_scores(shard)
    s = rsr.read_shard(shard)
    assert scores.dtype == np.float16 and len(scores) == len(s.tokens)
    # Ground truth scores unsafe text 1: at 0.5 the derived mask is the pack's, up to the
    # whitespace between an unsafe segment and the next.
    strict = rsr.PackedDataset(tmp_path / "p", seq_len=16)
    derived = rsr.PackedDataset(tmp_path / "p", seq_len=16, score_threshold=0.5)
    assert (~derived.mask).sum() >= (~strict.mask).sum() > 0
    assert not (derived.mask & ~strict.mask).any()  # nothing the pack masked becomes trainable
    everything = rsr.PackedDataset(tmp_path / "p", seq_len=16, score_threshold=1.0)
    assert everything.mask.sum() < len(everything.mask)  # 1.0 still masks what scores 1
    # Changed scores are refused.
    raw = bytearray(shard.with_suffix(".scores.f16").read_bytes())
    raw[0] ^= 0x3C
    shard.with_suffix(".scores.f16").write_bytes(bytes(raw))
    with pytest.raises(rsr.RsrError, match="sha256"):
        rsr.PackedDataset(tmp_path / "p", seq_len=16, score_threshold=0.5)
