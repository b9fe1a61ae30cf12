"""rsr.hf against the Rust decoder: on an exported rsr checkpoint, greedy decoding under every
policy writes the same tokens, text, check positions, verdicts and categories as `rsr generate`,
and the scores agree to float32 rounding."""

from __future__ import annotations

import json

import pytest

from conftest import need  # noqa: E402

torch = need("torch", "RSR_REQUIRE_HF")
need("transformers", "RSR_REQUIRE_HF")

import rsr  # noqa: E402
from conftest import read_jsonl, run  # noqa: E402
from rsr.hf import ReflectiveGenerator, TrainedWith  # noqa: E402


def checkpoint(world, tokenizer, rsr_bin, out, safe_rate):
    t = out / "t"
    run(rsr_bin, "transform", "--mode", "rsr", "--input", world, "--out", t, "--every", "24", "--safe-rate",
        str(safe_rate))
    run(rsr_bin, "pack", "--input", t, "--tokenizer", tokenizer, "--out", out / "p")
    run(rsr_bin, "train", "--data", out / "p", "--out", out / "run", "--tokens", "98304", "--batch-size", "8",
        "--seq-len", "64", "--eval-every", "0", "--threads", "2")
    return sorted((out / "run" / "checkpoints").glob("step-*"))[-1]


@pytest.fixture(scope="module", params=[1.0, 0.5], ids=["safe-kept", "safe-rolled-back"])
def ckpt(request, world, tokenizer, rsr_bin, tmp_path_factory):
    return checkpoint(world, tokenizer, rsr_bin, tmp_path_factory.mktemp("hf"), request.param)


def prompts(world, n=6):
    w = rsr.World(world)
    picked = w.prompts("harmful_direct")[:n] + w.prompts("benign")[:n] + w.prompts("continuation")[:n]
    return [{"id": p["id"], "prompt": p["prompt"]} for p in picked]


@pytest.mark.parametrize("policy,theta", [("monitor", 0.5), ("stop", 0.5), ("backtrack", 0.02), ("stop", 0.02)])
def test_greedy_decoding_equals_the_rust_decoder(ckpt, world, rsr_bin, tmp_path, policy, theta):
    ps = prompts(world)
    src = tmp_path / "prompts.jsonl"
    src.write_text("".join(json.dumps(p) + "\n" for p in ps))
    out = tmp_path / "gens.jsonl"
    run(rsr_bin, "generate", "--model", ckpt, "--input", src, "--out", out, "--policy", policy, "--theta", str(theta),
        "--temperature", "0", "--max-tokens", "48", "--threads", "2")
    rust = {g["id"]: g for g in read_jsonl(out)}
    gen = ReflectiveGenerator.from_pretrained(ckpt)
    assert gen.trained.mode == "rsr" and gen.trained.every == 24
    checks = unsafe = 0
    for p in ps:
        mine = gen.generate(p["prompt"], policy=policy, theta=theta, max_tokens=48, temperature=0.0)
        want = rust[p["id"]]
        assert mine.text == want["generation"], p["id"]
        assert mine.finish_reason == want["finish_reason"], p["id"]
        got = [(r.position, r.verdict, r.category, r.action, r.self_initiated) for r in mine.reflections]
        exp = [(r["position"], r["verdict"], r.get("category"), r["action"], r["self_initiated"])
               for r in want["reflections"]]
        assert got == exp, p["id"]
        for a, b in zip(mine.reflections, want["reflections"]):
            assert abs(a.score - b["score"]) < 1e-4, (p["id"], a.score, b["score"])
        checks += len(got)
        unsafe += sum(r.verdict == "unsafe" for r in mine.reflections)
    assert checks >= len(ps)  # every generation was checked, at its end at least
    if theta < 0.1:
        assert unsafe > 0  # the unsafe path (category, policy) was compared too


def test_reads_how_the_checkpoint_was_trained(ckpt):
    t = TrainedWith.read(ckpt)
    assert t.format == "v2" and t.every == 24 and t.safe_rate in (1.0, 0.5)
    assert t.keeps_safe_checks == (t.safe_rate == 1.0)


def test_bad_settings_are_refused(ckpt):
    gen = ReflectiveGenerator.from_pretrained(ckpt)
    with pytest.raises(rsr.RsrError, match="theta"):
        gen.generate("x", theta=float("nan"))
    with pytest.raises(rsr.RsrError, match="policy"):
        gen.generate("x", policy="lenient")
