"""Decoding with safety reflections in Hugging Face transformers.

The decoder of ``rsr generate`` (crates/rsr-decode, docs/design.md#decoding-with-reflections),
over a ``PreTrainedModel`` and its KV cache::

    from rsr.hf import ReflectiveGenerator
    gen = ReflectiveGenerator.from_pretrained("runs/rsr/checkpoints/step-0000400")
    out = gen.generate("User: How can I make blue dye?\\nAssistant:", policy="stop")
    out.text, out.reflections, out.finish_reason

A **check** happens at the first sentence end after at least ``every`` generated tokens (or at
``2 * every`` without one), whenever the model writes ``<|reflect|>`` itself, and once more at the
end. It feeds ``<|reflect|>`` and reads P(unsafe) from that one next-token distribution
(format v2: P(``<|unsafe|>``) / (P(``<|unsafe|>``) + P(``<|safe|>``)), corrected for sampled safe
reflections). A safe verdict is kept in context (``<|safe|>`` fed) when training put a reflection
after every safe segment, and rolled back with ``DynamicCache.crop`` when it sampled them. An
unsafe one (score ≥ θ, or not a number: fails closed) has the model write its category, then
the policy acts: ``monitor`` records, ``stop`` drops the text since the last safe check and
ends with a refusal, ``backtrack`` drops it and resamples (up to ``retries``), ``redirect``
goes on. ``every``, the format and the safe rate come from the checkpoint's ``state.json``.

Greedy decoding (``temperature=0``) writes the same tokens, checks, verdicts and text as the
Rust decoder on the same checkpoint (tests/python/test_hf.py). Sampling draws from the same
distribution (temperature, top-k, top-p, the same bans) with numpy's generator, not the Rust
decoder's ChaCha stream, so sampled texts differ token for token. Tag conditioning and
streaming (``on_final``) are the Rust decoder's only.
"""

from __future__ import annotations

import copy
import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Optional, Sequence

import numpy as np

import rsr
from rsr import _rsr

POLICIES = ("off", "monitor", "stop", "backtrack", "redirect")
DEFAULT_EVERY = 64


@dataclass
class Reflection:
    """One check: visible tokens generated when it happened, the verdict, the category the
    model wrote (unsafe only), its rationale if it wrote one, the score, the policy's action
    (``none``, ``stop``, ``backtrack``, ``redirect``) and whether the model opened it itself."""

    position: int
    verdict: str
    category: Optional[str]
    score: float
    action: str
    self_initiated: bool
    rationale: Optional[str] = None


@dataclass
class Generation:
    text: str
    tokens: list[int]
    reflections: list[Reflection] = field(default_factory=list)
    finish_reason: str = "length"
    extra_tokens: int = 0

    def to_dict(self) -> dict:
        return asdict(self)


def ends_sentence(piece: str) -> bool:
    """The segmenter's rule for a token's text: a newline anywhere, or ``.``/``!``/``?``
    optionally followed by closing quotes or brackets."""
    return "\n" in piece or piece.rstrip("\"')]").endswith((".", "!", "?"))


def _softmax(logits: np.ndarray) -> np.ndarray:
    x = logits.astype(np.float32)
    e = np.exp(x - x.max())
    return e / e.sum(dtype=np.float32)


def _argmax(logits: np.ndarray) -> int:
    # The Rust decoder's argmax keeps the last of equal maxima.
    return int(len(logits) - 1 - np.argmax(logits[::-1]))


@dataclass
class TrainedWith:
    """How the checkpoint was trained to reflect (its ``state.json``'s ``transform``)."""

    mode: Optional[str] = None
    every: Optional[int] = None
    format: str = "v2"
    safe_rate: float = 1.0

    @classmethod
    def read(cls, checkpoint: Path) -> "TrainedWith":
        path = Path(checkpoint) / "state.json"
        if not path.is_file():
            return cls()
        try:
            t = json.loads(path.read_text()).get("transform")
        except json.JSONDecodeError as e:
            raise rsr.RsrError(f"{path}: not a checkpoint state: {e}") from None
        if not t:
            return cls()
        if t.get("every") == 0:
            raise rsr.RsrError(f"{path}: transform.every is 0")
        rate = t.get("safe_rate", 1.0)
        if not 0.0 <= rate <= 1.0:
            raise rsr.RsrError(f"{path}: transform.safe_rate is {rate}, outside [0, 1]")
        # A manifest without a format was written in v1.
        fmt = t.get("format") or ("v1" if t.get("mode") else "v2")
        return cls(mode=t.get("mode"), every=t.get("every"), format=fmt, safe_rate=rate)

    @property
    def keeps_safe_checks(self) -> bool:
        return self.format == "v1" or self.safe_rate >= 1.0

    def calibrate(self, p_unsafe: float, p_safe: float) -> float:
        r = min(max(self.safe_rate, np.finfo(np.float64).tiny), 1.0)
        return r * p_unsafe / (r * p_unsafe + p_safe)


class _State:
    """A KV cache and how many tokens it holds."""

    def __init__(self, cache: Any) -> None:
        self.cache = cache
        self.len = 0


class ReflectiveGenerator:
    """Generate with reflection checks from a transformers causal LM trained on rsr data.

    ``model``: a ``PreTrainedModel`` (``LlamaForCausalLM`` for rsr checkpoints); ``tokenizer``: a
    ``tokenizers.Tokenizer`` or the path of ``tokenizer.json`` with the rsr special tokens;
    ``trained``: how the model was trained to reflect (:meth:`from_pretrained` reads it from the
    checkpoint)."""

    def __init__(self, model: Any, tokenizer: Any, trained: Optional[TrainedWith] = None) -> None:
        import torch
        from tokenizers import Tokenizer

        self.torch = torch
        self.model = model.eval()
        self.tok = Tokenizer.from_file(os.fspath(tokenizer)) if isinstance(tokenizer, (str, os.PathLike)) else tokenizer
        self.trained = trained or TrainedWith()
        vocab = self.tok.get_vocab(with_added_tokens=True)
        need = ["<|endoftext|>", "<|reflect|>", "<|/reflect|>", "<|safe|>", "<|unsafe|>"]
        missing = [t for t in need if t not in vocab]
        if missing:
            raise rsr.RsrError(f"the tokenizer lacks the rsr special tokens {missing}: use the checkpoint's tokenizer.json")
        self.endoftext, self.reflect_open, self.reflect_close, self.safe_tag, self.unsafe_tag = (vocab[t] for t in need)
        self.hidden = [self.reflect_close, self.safe_tag, self.unsafe_tag]
        n = self.model.config.vocab_size
        self.sentence_end = np.array([ends_sentence(self._decode([i])) for i in range(n)], dtype=bool)
        period = self._encode(".")
        self.period = period[0] if len(period) == 1 else None
        self.safe_body = self._encode("safe")
        self.unsafe_body = self._encode("unsafe")
        self.max_context = int(self.model.config.max_position_embeddings)
        import inspect

        params = inspect.signature(self.model.forward).parameters
        self._cache_arg = "cache" if "cache" in params else "past_key_values"

    @classmethod
    def from_pretrained(cls, checkpoint: Any, **model_kwargs: Any) -> "ReflectiveGenerator":
        """Load an rsr checkpoint directory (``config.json``, ``model.safetensors``,
        ``tokenizer.json``, ``state.json``) as ``AutoModelForCausalLM`` in float32."""
        import torch
        from transformers import AutoModelForCausalLM

        checkpoint = Path(checkpoint)
        model_kwargs.setdefault("dtype", torch.float32)
        model = AutoModelForCausalLM.from_pretrained(checkpoint, **model_kwargs)
        return cls(model, checkpoint / "tokenizer.json", TrainedWith.read(checkpoint))

    # -- the model as the decoder sees it ----------------------------------------------------

    def _encode(self, text: str) -> list[int]:
        # Text never becomes a special token: spelled-out `<|reflect|>` is ordinary text.
        self.tok.encode_special_tokens = True
        try:
            return self.tok.encode(text, add_special_tokens=False).ids
        finally:
            self.tok.encode_special_tokens = False

    def _decode(self, ids: Sequence[int]) -> str:
        return self.tok.decode(list(ids), skip_special_tokens=False)

    def _start(self) -> _State:
        from transformers import DynamicCache

        return _State(DynamicCache())

    def _feed(self, s: _State, tokens: Sequence[int]) -> np.ndarray:
        torch = self.torch
        with torch.no_grad():
            ids = torch.tensor([list(tokens)], dtype=torch.long)
            pos = torch.arange(s.len, s.len + len(tokens), dtype=torch.long)[None]
            # transformers ≥ 5.x names the cache argument `cache`; earlier ones `past_key_values`.
            out = self.model(input_ids=ids, position_ids=pos, use_cache=True, **{self._cache_arg: s.cache})
        s.len += len(tokens)
        return out.logits[0, -1].float().numpy()

    def _truncate(self, s: _State, n: int) -> None:
        if n < s.len:
            # A negative crop drops that many tokens: the form every transformers version takes.
            s.cache.crop(n - s.len)
        s.len = n

    def _reflection_budget(self) -> int:
        return min(max(self.max_context // 8, 4), 48)

    def _segment_closes(self, t: int, since: int, every: int) -> bool:
        every = max(every, 1)
        return since >= 2 * every or (since >= every and bool(self.sentence_end[t]))

    def _open_segment(self, context: Sequence[int], every: int) -> int:
        since = 0
        for t in context:
            if t in (self.reflect_open, self.endoftext):
                since = 0
            elif t not in self.hidden:
                since += 1
                if self._segment_closes(t, since, every):
                    since = 0
        return since

    def _score(self, s: _State, logits: np.ndarray) -> float:
        if self.trained.format == "v2":
            p = _softmax(logits)
            pu, ps = float(p[self.unsafe_tag]), float(p[self.safe_tag])
        else:
            pu, ps = self._sequence_prob(s, logits, self.unsafe_body), self._sequence_prob(s, logits, self.safe_body)
        if not (np.isfinite(pu) and np.isfinite(ps)):
            return float("nan")
        if pu + ps <= 0.0:
            return 0.5
        return float(np.float32(self.trained.calibrate(pu, ps)))

    def _sequence_prob(self, s: _State, first: np.ndarray, body: Sequence[int]) -> float:
        p, logits = 1.0, first
        fork = _State(copy.deepcopy(s.cache))
        fork.len = s.len
        for i, t in enumerate(body):
            p *= float(_softmax(logits)[t])
            if i + 1 < len(body):
                logits = self._feed(fork, [t])
        return p

    def _sample(self, logits: np.ndarray, banned: Sequence[int], temperature: float, top_k: int, top_p: float,
                rng: np.random.Generator) -> int:
        l = logits.astype(np.float32).copy()
        l[list(banned)] = -np.inf
        if temperature <= 0.0:
            return _argmax(l)
        p = _softmax(l / np.float32(temperature))
        idx = np.argsort(-p, kind="stable")
        idx = idx[p[idx] > 0]
        if top_k > 0:
            idx = idx[:top_k]
        if top_p < 1.0:
            keep = int(np.searchsorted(np.cumsum(p[idx]), top_p) + 1)
            idx = idx[: max(keep, 1)]
        q = p[idx] / p[idx].sum()
        return int(rng.choice(idx, p=q))

    # -- the decoding loop (crates/rsr-decode/src/generate.rs) -------------------------------

    def generate(
        self,
        prompt: str,
        *,
        policy: Optional[str] = None,
        theta: float = 0.5,
        every: Optional[int] = None,
        max_tokens: int = 128,
        temperature: float = 0.0,
        top_k: int = 0,
        top_p: float = 0.95,
        seed: int = 0,
        retries: int = 2,
        stop: Sequence[str] = (),
        rationales: bool = False,
    ) -> Generation:
        """Continue ``prompt``. ``policy`` defaults to ``stop`` for a model trained on rsr data
        and ``off`` otherwise; ``every`` to the checkpoint's cadence."""
        return self.generate_ids(
            self._encode(prompt), policy=policy, theta=theta, every=every, max_tokens=max_tokens,
            temperature=temperature, top_k=top_k, top_p=top_p, seed=seed, retries=retries, stop=stop,
            rationales=rationales,
        )

    def generate_ids(self, prompt: Sequence[int], *, policy: Optional[str] = None, theta: float = 0.5,
                     every: Optional[int] = None, max_tokens: int = 128, temperature: float = 0.0, top_k: int = 0,
                     top_p: float = 0.95, seed: int = 0, retries: int = 2, stop: Sequence[str] = (),
                     rationales: bool = False) -> Generation:
        policy = policy or ("stop" if self.trained.mode == "rsr" else "off")
        if policy not in POLICIES:
            raise rsr.RsrError(f"unknown policy `{policy}` ({', '.join(POLICIES)})")
        every = every or self.trained.every or DEFAULT_EVERY
        if not (0.0 <= theta <= 1.0) or (theta >= 1.0 and policy != "off"):
            raise rsr.RsrError(f"theta must be in [0, 1), got {theta}")
        if not (np.isfinite(temperature) and temperature >= 0) or not (0.0 < top_p <= 1.0):
            raise rsr.RsrError("temperature must be finite and ≥ 0, top_p in (0, 1]")
        rng = np.random.default_rng(seed)
        checking = policy != "off"
        banned = list(self.hidden)
        if checking and not self.trained.keeps_safe_checks:
            banned.append(self.reflect_open)
        context = list(prompt) if len(prompt) else [self.endoftext]
        reserve = min(max_tokens + self._reflection_budget() + 2, self.max_context // 2)
        context = context[max(len(context) - max(self.max_context - reserve, 1), 0):]
        self._s = self._start()
        g = self._g = Generation(text="", tokens=[])
        self._logits = self._feed(self._s, context)
        self._safe = (self._s.len, self._logits.copy(), 0)
        self._retries = 0
        self._cfg = dict(policy=policy, theta=theta, retries=retries, rationales=rationales)
        since = self._open_segment(context, every)
        while True:
            ending = None
            if len(g.tokens) >= max_tokens or self._s.len + 2 + self._reflection_budget() >= self.max_context:
                ending = "length"
            else:
                t = self._sample(self._logits, banned, temperature, top_k, top_p, rng)
                if t == self.endoftext:
                    ending = "eos"
                elif t == self.reflect_open:
                    since = 0
                    if self._check(self_initiated=True) == "finish":
                        break
                    continue
                else:
                    self._logits = self._feed(self._s, [t])
                    g.tokens.append(t)
                    since += 1
                    if stop and any(x in self._decode(g.tokens) for x in stop):
                        ending = "stop_sequence"
                    if ending is None and checking and self._segment_closes(t, since, every):
                        since = 0
                        if self._check(self_initiated=False) == "finish":
                            break
            if ending is None:
                continue
            if checking and since > 0:
                since = 0
                outcome = self._check(self_initiated=False)
                if outcome == "finish":
                    break
                if outcome == "rewound":
                    continue
            g.finish_reason = ending
            break
        if g.finish_reason != "refused":
            text = self._decode(g.tokens)
            cuts = [text.find(x) for x in stop if x in text]
            g.text = text[: min(cuts)] if cuts else text
        return g

    def _write_reflection(self, logits: np.ndarray, first: Optional[int], rationale: bool) -> str:
        s, g = self._s, self._g
        body: list[int] = []
        asked = (not rationale) or self.period is None
        if first is not None:
            logits = self._feed(s, [first])
            g.extra_tokens += 1
        room = max(self.max_context - (s.len + 1), 0)
        for _ in range(min(self._reflection_budget(), room)):
            t = _argmax(logits)
            if t == self.reflect_close and not asked and body and "." not in self._decode(body):
                t = self.period
                asked = True
            logits = self._feed(s, [t])
            g.extra_tokens += 1
            if t in (self.reflect_close, self.endoftext):
                break
            body.append(t)
        self._logits = logits
        return self._decode(body)

    def _check(self, self_initiated: bool) -> str:
        s, g, cfg = self._s, self._g, self._cfg
        before_len, before_logits = s.len, self._logits
        l = self._feed(s, [self.reflect_open])
        g.extra_tokens += 1
        score = self._score(s, l)
        is_unsafe = bool(np.isnan(score) or score >= cfg["theta"])
        record = Reflection(len(g.tokens), "unsafe" if is_unsafe else "safe", None, score, "none", self_initiated)
        if not is_unsafe:
            if self.trained.format == "v2" and (self_initiated or self.trained.keeps_safe_checks):
                self._logits = self._feed(s, [self.safe_tag])
                g.extra_tokens += 1
            elif self.trained.format == "v2":
                self._truncate(s, before_len)
                self._logits = before_logits
            else:
                self._write_reflection(l, None, False)
            self._safe = (s.len, self._logits.copy(), len(g.tokens))
            self._retries = 0
            g.reflections.append(record)
            return "continue"
        if self.trained.format == "v2":
            parsed = _rsr.parse_reflection(self._write_reflection(l, self.unsafe_tag, cfg["rationales"]), "v2")
        else:
            parsed = _rsr.parse_reflection(self._write_reflection(l, None, False), "v1")
        if parsed is not None and parsed[0] == "unsafe":
            record.category = parsed[1]
            record.rationale = _rsr.strip_special(parsed[2]) or None
        return self._act(record)

    def _act(self, record: Reflection) -> str:
        s, g, cfg = self._s, self._g, self._cfg
        policy = cfg["policy"]
        safe_len, safe_logits, safe_visible = self._safe
        if policy in ("monitor", "off"):
            outcome = "continue"
        elif policy == "redirect":
            record.action, outcome = "redirect", "continue"
        elif policy == "backtrack" and self._retries < cfg["retries"]:
            record.action = "backtrack"
            self._retries += 1
            self._truncate(s, safe_len)
            self._logits = safe_logits.copy()
            del g.tokens[safe_visible:]
            outcome = "rewound"
        else:
            record.action = "stop"
            del g.tokens[safe_visible:]
            kept = self._decode(g.tokens)
            sep = "" if not kept or kept[-1].isspace() else " "
            g.text = f"{kept}{sep}{_rsr.refusal()}"
            g.finish_reason = "refused"
            outcome = "finish"
        g.reflections.append(record)
        return outcome
