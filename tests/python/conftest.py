"""Fixtures for the `rsr` Python package's tests: the `rsr` command (built if missing), a small
SafetyWorld split into several input files, a classifier and a tokenizer trained on it. Each is
made once per session with the command line, so every test compares the package against it."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def run(*args: str, **kw) -> subprocess.CompletedProcess:
    p = subprocess.run([str(a) for a in args], capture_output=True, text=True, **kw)
    assert p.returncode == 0, f"{' '.join(map(str, args))}\n{p.stdout}\n{p.stderr}"
    return p


@pytest.fixture(scope="session")
def rsr_bin() -> Path:
    b = Path(os.environ.get("RSR_BIN", ROOT / "target" / "release" / "rsr"))
    if not b.is_file():
        run("cargo", "build", "--release", "--locked", "-q", "-p", "rsr-cli", cwd=ROOT)
    return b


@pytest.fixture(scope="session")
def world(tmp_path_factory, rsr_bin) -> Path:
    """SafetyWorld seed 7, 600 documents, written by the package (the CLI's generator)."""
    import rsr

    d = tmp_path_factory.mktemp("world") / "world"
    rsr.generate_world(d, seed=7, docs=600)
    return d


@pytest.fixture(scope="session")
def inputs(world) -> list[Path]:
    """The world's documents split over four JSONL files (inputs for two ranks)."""
    docs = (world / "documents.jsonl").read_text().splitlines()
    out = world.parent / "inputs"
    out.mkdir()
    files = []
    for i in range(4):
        f = out / f"part{i}.jsonl"
        f.write_text("".join(line + "\n" for line in docs[i::4]))
        files.append(f)
    return files


@pytest.fixture(scope="session")
def classifier(world, rsr_bin) -> Path:
    out = world.parent / "world.rsrclf"
    run(rsr_bin, "classifier", "train", "--corpus", world, "--holdout", "0.2", "--out", out)
    return out


@pytest.fixture(scope="session")
def tokenizer(world, rsr_bin) -> Path:
    out = world.parent / "tokenizer.json"
    run(rsr_bin, "tokenizer", "train", "--input", world, "--vocab-size", "600", "--out", out)
    return out


def need(module: str, env: str):
    """Import `module`, or skip the test module without it — unless `env` is set (CI sets it
    where it installed the library), which makes absence a failure."""
    if os.environ.get(env):
        import importlib

        return importlib.import_module(module)
    return pytest.importorskip(module)


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in Path(path).read_text().splitlines() if line.strip()]
