"""datatrove pipeline steps: label, reflect, filter, write parts, pack.

A corpus pipeline that ends in training data with regular safety reflections::

    from datatrove.executor import LocalPipelineExecutor
    from datatrove.pipeline.readers import JsonlReader
    from rsr.datatrove import RsrLabel, RsrReflect, RsrWriter, RsrPack

    LocalPipelineExecutor(pipeline=[
        JsonlReader("crawl/"),
        RsrLabel(classifier="safety.rsrclf"),
        RsrReflect(mode="rsr", every=24),
        RsrWriter("crawl-rsr"),
    ], tasks=8).run()
    LocalPipelineExecutor(pipeline=[RsrPack("crawl-rsr", "tokenizer.json", "crawl-packed")], tasks=1).run()

Or hand the reflected documents to datatrove's own tokenizer: :class:`RsrReflect` writes
``metadata["no_loss_ranges"]`` (character ranges), which
``DocumentTokenizer(save_loss_metadata=True)`` turns into its loss mask — the same tokens and
mask as ``rsr pack`` with the same tokenizer.

Metadata the steps write (flat values, as datatrove's writers keep them):

- ``rsr_spans``: the annotation (a JSON string of ``{start, end, label, category?, score}``,
  character offsets), written by :class:`RsrLabel`, read by :class:`RsrReflect`;
- ``no_loss_ranges``: ``[[start, end], ...]`` characters the loss must ignore;
- ``rsr``: a JSON string with what :class:`RsrWriter` needs (the inserted ranges, the
  document's transform counts and the run's knobs).

Steps are pickled to their workers: the classifier and the transform are built inside ``run``.
"""

from __future__ import annotations

import json
from typing import Any, Optional

from datatrove.data import Document, DocumentsPipeline
from datatrove.pipeline.base import PipelineStep
from datatrove.pipeline.filters.base_filter import BaseFilter

import rsr

SPANS = "rsr_spans"
LABELS = "rsr_labels"
RSR = "rsr"
NO_LOSS = "no_loss_ranges"
#: Metadata keys of these steps, which the writer does not copy into its parts.
INTERNAL = (SPANS, LABELS, RSR, NO_LOSS)


def _annotator(classifier, endpoint, threshold, fallback_category, endpoint_model, requests_per_s):
    if (classifier is None) == (endpoint is None):
        raise rsr.RsrError("pass exactly one of classifier=PATH (an rsr classifier file) or endpoint=URL")
    if classifier is not None:
        return rsr.Annotator.classifier(classifier, threshold=threshold, fallback_category=fallback_category)
    return rsr.Annotator.endpoint(
        endpoint, model=endpoint_model, requests_per_s=requests_per_s, fallback_category=fallback_category
    )


class RsrLabel(PipelineStep):
    """Annotate every sentence with a classifier file (``hashed`` or ``minilm``) or a Llama
    Guard-style endpoint, as ``rsr annotate`` / ``rsr transform --classifier`` do. Writes
    ``metadata["rsr_spans"]``."""

    name = "🛡️ rsr label"
    type = "🏷 - ANNOTATOR"

    def __init__(
        self,
        classifier: Optional[str] = None,
        endpoint: Optional[str] = None,
        threshold: float = 0.5,
        fallback_category: str = "violent-crimes",
        endpoint_model: str = "llama-guard",
        requests_per_s: float = 0.0,
    ) -> None:
        super().__init__()
        self.args = (classifier, endpoint, threshold, fallback_category, endpoint_model, requests_per_s)
        # Fail at construction, not on a worker: the arguments must name one annotator.
        if (classifier is None) == (endpoint is None):
            raise rsr.RsrError("RsrLabel: pass exactly one of classifier=PATH or endpoint=URL")

    def run(self, data: DocumentsPipeline, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        ann = _annotator(*self.args)
        described = json.dumps(ann.describe(), sort_keys=True)
        for doc in data:
            with self.track_time():
                spans = ann.annotate(doc.text)
            doc.metadata[SPANS] = json.dumps(spans)
            doc.metadata[LABELS] = described
            self.stat_update("sentences", value=len(spans))
            self.stat_update("unsafe_sentences", value=sum(s["label"] == "unsafe" for s in spans))
            yield doc


def _spans(doc: Document) -> Optional[list]:
    v = doc.metadata.get(SPANS)
    if v is None:
        return None
    return json.loads(v) if isinstance(v, str) else list(v)


class RsrReflect(PipelineStep):
    """Apply a transform (``rsr`` or any baseline: ``raw``, ``filter``, ``rewrite``, ``refuse``,
    ``tag``) to each document, from the spans :class:`RsrLabel` wrote. The document's text
    becomes the transformed text; ``no_loss_ranges`` marks what the loss must ignore, for
    datatrove's ``DocumentTokenizer``; ``rsr`` carries the inserted ranges and counts for
    :class:`RsrWriter`. A document without spans is transformed as all safe and counted
    ``docs_unannotated``, as in the CLI. ``knobs`` are :class:`rsr.Transform`'s."""

    name = "🪞 rsr reflect"
    type = "✂️ - FORMATTER"

    def __init__(self, mode: str = "rsr", tokenizer: Optional[str] = None, **knobs: Any) -> None:
        super().__init__()
        self.mode, self.tokenizer, self.knobs = mode, tokenizer, knobs
        rsr.Transform(mode, tokenizer=tokenizer, **knobs)  # bad knobs fail here, not on a worker

    def run(self, data: DocumentsPipeline, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        t = rsr.Transform(self.mode, tokenizer=self.tokenizer, **self.knobs)
        config = t.config
        for doc in data:
            spans = _spans(doc)
            labels = doc.metadata.get(LABELS)
            with self.track_time():
                out = t(doc.text, spans or [], id=str(doc.id))
            if spans is None:
                self.stat_update("unannotated")
            if out is None:
                self.stat_update("dropped")
                continue
            if spans is None:
                out.counts["docs_unannotated"] += 1
            doc.text = out.text
            doc.metadata[NO_LOSS] = [list(r) for r in out.masked]
            knobs = {
                "transform": config,
                "labels": "none" if self.mode == "raw" else (json.loads(labels) if labels else "none"),
                "token_counter": t.token_counter,
            }
            meta = {"inserted": out.inserted, "counts": out.counts, "bytes_in": out.bytes_in, "knobs": knobs}
            if out.scores:
                meta["scores"] = out.scores  # RsrReflect(scores=True): for `rsr pack --scores`
            doc.metadata[RSR] = json.dumps(meta)
            self.stat_update("reflections", value=out.counts["reflections_safe"] + out.counts["reflections_unsafe"])
            self.stat_update("masked_chars", value=sum(e - s for s, e in out.masked))
            yield doc


class RsrFilter(BaseFilter):
    """The ``filter`` baseline as a datatrove filter: drop a document whose segment scores
    (``max`` or ``mean`` over segments of ``every`` tokens) reach ``tau``, from the spans
    :class:`RsrLabel` wrote. A document without spans fails closed: it is dropped, with reason
    ``rsr_unlabelled``, unless ``keep_unlabelled``."""

    name = "🛡️ rsr filter"

    def __init__(
        self,
        tau: float = 0.5,
        aggregate: str = "max",
        every: int = 128,
        keep_unlabelled: bool = False,
        exclusion_writer=None,
    ) -> None:
        super().__init__(exclusion_writer)
        self.knobs = {"tau": tau, "aggregate": aggregate, "every": every}
        self.keep_unlabelled = keep_unlabelled
        rsr.Transform("filter", **self.knobs)
        self._t = None

    def filter(self, doc: Document) -> bool | tuple[bool, str]:
        if self._t is None:
            self._t = rsr.Transform("filter", **self.knobs)
        spans = _spans(doc)
        if spans is None:
            return True if self.keep_unlabelled else (False, "rsr_unlabelled")
        return True if self._t(doc.text, spans, id=str(doc.id)) is not None else (False, "rsr_unsafe")

    def __getstate__(self):
        d = self.__dict__.copy()
        d["_t"] = None  # rebuilt on the worker
        return d


class RsrWriter(PipelineStep):
    """Write the documents :class:`RsrReflect` produced as one part per rank,
    ``OUT/parts/part-RANK.jsonl`` with a completion marker (counts, knobs, the part's sha256) —
    the layout of ``rsr transform --rank R --world-size N`` — so ``rsr pack``, ``rsr stats
    merge`` and :class:`RsrPack` read it. Documents must all come from one transform (their
    knobs are compared). Other metadata is kept as fields of each record."""

    name = "💾 rsr parts"
    type = "💽 - WRITER"

    def __init__(self, output_folder: str) -> None:
        super().__init__()
        self.output_folder = output_folder

    def run(self, data: DocumentsPipeline, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        writer = None
        knobs = None
        for doc in data:
            meta = doc.metadata.get(RSR)
            if meta is None:
                raise rsr.RsrError(f"document `{doc.id}` has no `{RSR}` metadata: put RsrReflect before RsrWriter")
            meta = json.loads(meta)
            if knobs is None:
                knobs = meta["knobs"]
                writer = rsr.PartWriter(
                    self.output_folder, rank, world_size, f"datatrove rank {rank} of {world_size}", knobs
                )
            elif meta["knobs"] != knobs:
                raise rsr.RsrError(f"document `{doc.id}` was transformed with other settings than the rank's first")
            record = {k: v for k, v in doc.metadata.items() if k not in INTERNAL}
            record.update(
                id=str(doc.id),
                text=doc.text,
                masked=doc.metadata.get(NO_LOSS, []),
                inserted=meta["inserted"],
                rsr_counts=meta["counts"],
                rsr_bytes_in=meta["bytes_in"],
            )
            if meta.get("scores"):
                record["scores"] = meta["scores"]
            with self.track_time():
                writer.write(record)
            self.stat_update("documents")
            yield doc
        if writer is None:
            # A rank with no documents still finishes its part, so the run is complete.
            writer = rsr.PartWriter(
                self.output_folder, rank, world_size, f"datatrove rank {rank} of {world_size}", {"empty": True}
            )
        writer.finish()


class RsrPack(PipelineStep):
    """Pack a finished :class:`RsrWriter` output into rsr shards (``rsr pack``: tokens, loss
    mask, checksums, a manifest with the mask's sha256), after merging its parts' counts into
    ``manifest.json``; optionally export them (``megatron``, ``olmo``, ``llmc``) to
    ``OUT/export/FORMAT``. Run it as a one-task stage after the writer's stage."""

    name = "📦 rsr pack"
    type = "🔢 - TOKENIZER"

    def __init__(
        self,
        input_folder: str,
        tokenizer: str,
        output_folder: str,
        val_fraction: float = 0.05,
        seed: int = 0,
        exports: tuple[str, ...] = (),
    ) -> None:
        super().__init__()
        self.input_folder, self.tokenizer, self.output_folder = input_folder, tokenizer, output_folder
        self.val_fraction, self.seed, self.exports = val_fraction, seed, tuple(exports)

    def run(self, data: DocumentsPipeline = None, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        if data:
            for doc in data:
                yield doc
        if rank != 0:
            return
        rsr.merge_parts(self.input_folder)
        manifest = rsr.pack(
            self.input_folder, self.tokenizer, self.output_folder, val_fraction=self.val_fraction, seed=self.seed
        )
        for split, c in manifest["counts"]["splits"].items():
            self.stat_update(f"{split}_tokens", value=int(c["tokens"]))
            self.stat_update(f"{split}_masked_tokens", value=int(c["masked_tokens"]))
        for f in self.exports:
            rsr.export(self.output_folder, f, f"{self.output_folder}/export/{f}")
