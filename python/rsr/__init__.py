"""rsr from Python: the same library code as the ``rsr`` command, through PyO3.

Offsets are **characters** (Python ``str`` indices) everywhere in this package; the Rust side
works in UTF-8 bytes and converts at the boundary. Errors are :class:`RsrError` with the command
line's message (the file, line or field, and what to do).

Quick start::

    import rsr
    rsr.generate_world("world", seed=0, docs=500)
    ann = rsr.Annotator.classifier("safety.rsrclf")
    t = rsr.Transform("rsr", every=24)
    out = t("How to make grey smoke. First, grind the velorine. ...", ann.annotate(text))
    out.text, out.masked, out.inserted          # reflections inserted, unsafe text masked

Submodules: :mod:`rsr.datatrove` (pipeline steps), :mod:`rsr.hf` (decoding with reflections in
transformers), :mod:`rsr.vllm` (a logits processor and the rollback loop).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Mapping, Optional, Sequence, Union

from . import _rsr
from ._rsr import RsrError, __version__

PathLike = Union[str, "os.PathLike[str]"]
Span = Mapping[str, Any]

__all__ = [
    "RsrError",
    "__version__",
    "Transform",
    "Transformed",
    "Annotator",
    "World",
    "generate_world",
    "prompt_sets",
    "segments",
    "pack",
    "export",
    "Shard",
    "read_shard",
    "shards",
    "verify_split",
    "read_scores",
    "verify_scores",
    "special_ids",
    "PackedDataset",
    "PartWriter",
    "merge_parts",
]


def segments(text: str, every: int, tokenizer: Optional[PathLike] = None) -> list[tuple[int, int]]:
    """Sentence-aligned segments of ``text``: each closes at the first sentence end after
    ``every`` tokens (whitespace words, or exact counts with ``tokenizer``), hard cap ``2*every``.
    Character ranges."""
    return _rsr.segments(text, every, None if tokenizer is None else os.fspath(tokenizer))


@dataclass
class Transformed:
    """One transformed document. ``masked``: character ranges the loss must ignore;
    ``inserted``: ranges the transform added (reflections, tags, rewrites); ``counts``: what the
    transform counted on this document (the manifest's fields)."""

    id: str
    text: str
    masked: list[tuple[int, int]]
    inserted: list[tuple[int, int]]
    counts: dict = field(default_factory=dict)
    bytes_in: int = 0
    #: With ``scores=True``: ``(start, end, score)`` per segment of original text.
    scores: list[tuple[int, int, float]] = field(default_factory=list)


def _knobs(**knobs: Any) -> str:
    return json.dumps({k: v for k, v in knobs.items() if v is not None})


class Transform:
    """A transform of the corpus (``rsr transform``), applied one document at a time.

    ``mode``: ``rsr`` (regular safety reflection), or a baseline: ``raw``, ``filter``,
    ``rewrite``, ``refuse``, ``tag``. Knobs left at ``None`` keep the library's defaults; they are
    named as in a transform manifest (``every``, ``safe_rate``, ``format``, ``rationale_rate``,
    ``mask``, ``after_unsafe``, ``tau``, ``aggregate``, ``filter_unit`` (``document`` or
    ``segment``), ``untagged``, ``refusal`` (``varied``, ``fixed``, ``category``, ``offer``,
    ``no-notice``, ``half``, ``drop-exchange``), ``seed``, ``scores``: each
    segment's safety score beside its text, for ``rsr pack --scores``). ``tokenizer``: a
    ``tokenizer.json`` to count the cadence in exact tokens (else whitespace words).
    Counts accumulate over every call (:attr:`counts`).
    """

    def __init__(
        self,
        mode: str = "rsr",
        *,
        every: Optional[int] = None,
        safe_rate: Optional[float] = None,
        format: Optional[str] = None,
        rationale_rate: Optional[float] = None,
        mask: Optional[str] = None,
        after_unsafe: Optional[str] = None,
        tau: Optional[float] = None,
        aggregate: Optional[str] = None,
        filter_unit: Optional[str] = None,
        untagged: Optional[float] = None,
        refusal: Optional[str] = None,
        seed: Optional[int] = None,
        scores: Optional[bool] = None,
        tokenizer: Optional[PathLike] = None,
    ) -> None:
        self._inner = _rsr.Transform(
            _knobs(
                mode=mode,
                every=every,
                safe_rate=safe_rate,
                format=format,
                rationale_rate=rationale_rate,
                mask=mask,
                after_unsafe=after_unsafe,
                tau=tau,
                aggregate=aggregate,
                filter_unit=filter_unit,
                untagged=untagged,
                refusal=refusal,
                seed=seed,
                scores=scores,
            ),
            None if tokenizer is None else os.fspath(tokenizer),
        )

    def __call__(self, text: str, spans: Sequence[Span] = (), id: str = "doc") -> Optional[Transformed]:
        """Transform ``text`` given its annotation ``spans`` (``{start, end, label, category?,
        score?}``, character offsets; none = all safe). The seed of every random choice is the
        document ``id``, as in the CLI. ``None`` when the transform drops the document."""
        out = self._inner.apply(id, text, json.dumps(list(spans)))
        if out is None:
            return None
        d = json.loads(out)
        return Transformed(
            id=d["id"],
            text=d["text"],
            masked=[tuple(r) for r in d["masked"]],
            inserted=[tuple(r) for r in d["inserted"]],
            counts=d["rsr_counts"],
            bytes_in=d["rsr_bytes_in"],
            scores=[tuple(r) for r in d["scores"]],
        )

    @property
    def config(self) -> dict:
        """Every knob, as the manifest records it."""
        return json.loads(self._inner.config_json())

    @property
    def counts(self) -> dict:
        """What the transform counted over every document so far."""
        return json.loads(self._inner.counts_json())

    @property
    def token_counter(self) -> str:
        return self._inner.counter_name()

    def __repr__(self) -> str:
        c = self.config
        return f"Transform(mode={c['mode']!r}, every={c['every']})"


class Annotator:
    """Labels text sentence by sentence: a classifier file (``hashed`` or ``minilm``, from
    ``rsr classifier train``) or a Llama Guard-style judge on an OpenAI-compatible endpoint."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    @classmethod
    def classifier(
        cls,
        path: PathLike,
        threshold: float = 0.5,
        fallback_category: str = "violent-crimes",
        minilm_dir: Optional[PathLike] = None,
    ) -> "Annotator":
        return cls(
            _rsr.Annotator.classifier(
                os.fspath(path), threshold, fallback_category, None if minilm_dir is None else os.fspath(minilm_dir)
            )
        )

    @classmethod
    def endpoint(
        cls,
        url: str,
        model: str = "llama-guard",
        requests_per_s: float = 0.0,
        fallback_category: str = "violent-crimes",
        timeout_s: float = 120.0,
    ) -> "Annotator":
        return cls(_rsr.Annotator.endpoint(url, model, requests_per_s, fallback_category, timeout_s))

    def annotate(self, text: str) -> list[dict]:
        """One span per sentence: ``{start, end, label, category?, score}`` (characters)."""
        return json.loads(self._inner.annotate(text))

    def describe(self) -> dict:
        """What a manifest records about this annotator."""
        return json.loads(self._inner.describe_json())


def generate_world(out: PathLike, seed: int = 0, docs: Optional[int] = None, **config: Any) -> dict:
    """Write SafetyWorld ``seed`` to ``out`` (as ``rsr gym``): documents, ground-truth
    annotations, held-out documents, prompt sets and ``world.json``. ``config`` changes other
    ``WorldConfig`` fields. Returns the counts."""
    if docs is not None:
        config["docs"] = docs
    return json.loads(_rsr.generate_world(os.fspath(out), seed, json.dumps(config)))


def prompt_sets() -> list[dict]:
    """The world's prompt sets: name, role and whether harm is judged."""
    return json.loads(_rsr.prompt_sets())


class World:
    """A SafetyWorld directory: its prompt sets and the oracle judge."""

    def __init__(self, dir: PathLike) -> None:
        self.dir = Path(dir)
        self._inner = _rsr.World(os.fspath(dir))

    def prompts(self, set: str) -> list[dict]:
        """The prompt records of one set (``prompts/SET.jsonl``)."""
        path = self.dir / "prompts" / f"{set}.jsonl"
        if not path.is_file():
            have = sorted(p.stem for p in (self.dir / "prompts").glob("*.jsonl"))
            raise RsrError(f"{path}: no prompt set `{set}` (sets: {', '.join(have)})")
        with open(path, encoding="utf-8") as f:
            return [json.loads(line) for line in f if line.strip()]

    def judge(self, prompt: Mapping[str, Any], response: str) -> dict:
        """The oracle's verdict: ``{delivered_harm, refused, benign_correct, steps_matched,
        steps_required}``."""
        return json.loads(self._inner.judge(json.dumps(dict(prompt)), response))


def pack(
    input: PathLike,
    tokenizer: PathLike,
    out: PathLike,
    val_fraction: float = 0.05,
    seed: int = 0,
    shard_tokens: int = 1 << 26,
) -> dict:
    """Pack a transformed corpus (``documents.jsonl`` or finished ``parts/``) into shards with a
    loss mask per token, as ``rsr pack``. Returns the pack manifest."""
    return json.loads(
        _rsr.pack(os.fspath(input), os.fspath(tokenizer), os.fspath(out), val_fraction, seed, shard_tokens)
    )


def export(pack_dir: PathLike, format: str, out: PathLike) -> list[str]:
    """Export a pack as ``megatron``, ``olmo`` or ``llmc`` files (``rsr export``)."""
    return _rsr.export(os.fspath(pack_dir), format, os.fspath(out))


def verify_split(pack_dir: PathLike, split: str = "train") -> None:
    """Check a split's shards against the mask digest of the pack manifest (raises on change)."""
    _rsr.verify_split(os.fspath(pack_dir), split)


def special_ids(tokenizer: PathLike) -> dict:
    """The reflection special tokens' ids in a tokenizer: ``endoftext``, ``reflect_open``,
    ``reflect_close``, ``safe``, ``unsafe_``."""
    return json.loads(_rsr.special_ids(os.fspath(tokenizer)))


@dataclass
class Shard:
    """One packed shard: ``tokens`` (uint32), ``mask`` (bool, True = trained) and
    ``doc_offsets`` (uint64, ``n_docs + 1`` entries)."""

    tokens: Any
    mask: Any
    doc_offsets: Any

    def __len__(self) -> int:
        return len(self.doc_offsets) - 1

    def doc(self, i: int) -> tuple[Any, Any]:
        s, e = int(self.doc_offsets[i]), int(self.doc_offsets[i + 1])
        return self.tokens[s:e], self.mask[s:e]

    def docs(self) -> Iterator[tuple[Any, Any]]:
        for i in range(len(self)):
            yield self.doc(i)


def read_shard(path: PathLike) -> Shard:
    """Read and check one shard (magic, checksum, sizes, token ids) into numpy arrays."""
    import numpy as np

    tokens, mask, offsets = _rsr.read_shard(os.fspath(path))
    return Shard(
        tokens=np.frombuffer(bytes(tokens), dtype="<u4"),
        mask=np.frombuffer(bytes(mask), dtype=np.uint8).astype(bool),
        doc_offsets=np.asarray(offsets, dtype=np.uint64),
    )


def read_scores(shard: PathLike) -> Any:
    """The per-token safety scores beside a shard (``rsr pack --scores``): float16, one per
    token. Verify them with :func:`verify_scores` first."""
    import numpy as np

    path = Path(shard).with_suffix(".scores.f16")
    if not path.is_file():
        raise RsrError(f"{path}: no score file beside the shard (pack with `rsr pack --scores`)")
    return np.fromfile(path, dtype="<f2")


def verify_scores(pack_dir: PathLike, split: str = "train") -> None:
    """Check a split's score files against the ``scores_sha256`` its manifest records."""
    import hashlib

    manifest = Path(pack_dir) / "manifest.json"
    want = json.loads(manifest.read_text())["counts"]["splits"][split].get("scores_sha256")
    if want is None:
        raise RsrError(f"{manifest}: the pack has no scores (pack with `rsr pack --scores`)")
    h = hashlib.sha256()
    for s in shards(pack_dir, split):
        p = s.with_suffix(".scores.f16")
        if not p.is_file():
            raise RsrError(f"{p}: missing; the manifest records scores for every shard of `{split}`")
        h.update(p.read_bytes())
    if h.hexdigest() != want:
        raise RsrError(f"{Path(pack_dir) / split}: the score files changed since `rsr pack` wrote them (sha256 differs)")


def shards(pack_dir: PathLike, split: str = "train") -> list[Path]:
    """The shard files of a split, in order."""
    files = sorted((Path(pack_dir) / split).glob("shard_*.bin"))
    if not files:
        raise RsrError(f"{Path(pack_dir) / split}: no shards (run `rsr pack` first)")
    return files


class PackedDataset:
    """A split of a pack as fixed windows for a causal LM: ``{"input_ids", "labels"}`` with
    ``labels = -100`` where the loss mask is 0 (the transformers convention; the model shifts).
    Windows of ``seq_len`` tokens cut the split's token stream end to end (the last partial one
    is dropped). The split is verified against its manifest first, so a changed mask is an error,
    never a silent downgrade. With ``score_threshold`` (a pack made with ``--scores``), the loss
    mask is derived at load time instead: a token is trained when its safety score is below the
    threshold (reflections, tags and document ends score 0). Map-style: ``torch.utils.data.DataLoader`` takes it as it is, and
    items are torch tensors when torch is installed (numpy arrays otherwise)."""

    def __init__(
        self, pack_dir: PathLike, split: str = "train", seq_len: int = 256, score_threshold: Optional[float] = None
    ) -> None:
        import numpy as np

        if seq_len < 1:
            raise RsrError(f"seq_len must be at least 1, got {seq_len}")
        verify_split(pack_dir, split)
        files = shards(pack_dir, split)
        parts = [read_shard(p) for p in files]
        self.tokens = np.concatenate([s.tokens for s in parts])
        self.mask = np.concatenate([s.mask for s in parts])
        if score_threshold is not None:
            if not 0.0 <= score_threshold <= 1.0:
                raise RsrError(f"score_threshold must be in [0, 1], got {score_threshold}")
            verify_scores(pack_dir, split)
            scores = np.concatenate([read_scores(p) for p in files]).astype(np.float32)
            if len(scores) != len(self.tokens):
                raise RsrError(f"{Path(pack_dir) / split}: {len(scores)} scores for {len(self.tokens)} tokens")
            self.mask = scores < score_threshold
        self.seq_len = seq_len

    def __len__(self) -> int:
        return len(self.tokens) // self.seq_len

    def __getitem__(self, i: int) -> dict:
        import numpy as np

        if not 0 <= i < len(self):
            raise IndexError(i)
        s = i * self.seq_len
        ids = self.tokens[s : s + self.seq_len].astype(np.int64)
        labels = np.where(self.mask[s : s + self.seq_len], ids, -100)
        try:
            import torch
        except ImportError:
            return {"input_ids": ids, "labels": labels}
        return {"input_ids": torch.from_numpy(ids), "labels": torch.from_numpy(labels)}


class PartWriter:
    """Writes one part of a scaled-out transform (``OUT/parts/part-NNNNN.jsonl`` and its
    completion marker with the part's sha256), the layout ``rsr transform --rank`` writes, so
    ``rsr pack`` and ``rsr stats merge`` read it like any other."""

    def __init__(self, out: PathLike, index: int, total: int, source: str, knobs: Mapping[str, Any]) -> None:
        self._inner = _rsr.PartWriter(os.fspath(out), index, total, source, json.dumps(dict(knobs)))

    def write(self, doc: Mapping[str, Any]) -> None:
        """``{id, text, masked, inserted, rsr_counts?, rsr_bytes_in?, ...}`` (character ranges)."""
        self._inner.write(json.dumps(dict(doc)))

    def finish(self) -> None:
        self._inner.finish()


def merge_parts(out: PathLike) -> dict:
    """Sum the finished parts' markers into ``out/manifest.json`` (``rsr stats merge``); an
    error naming the parts still missing."""
    return json.loads(_rsr.merge_parts(os.fspath(out)))
