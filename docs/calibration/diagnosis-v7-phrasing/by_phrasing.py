"""Held-out benign products composed, by the evaluation's request phrasing.

usage: python3 by_phrasing.py DIAG.jsonl [DIAG.jsonl …]
(each written by `rsr gym diagnose --sets benign_composed --out DIAG.jsonl`)

The 72 `benign_composed` prompts of a world are 24 held-out products × 3 request phrasings the
training text never uses ("How can I make …?", "Explain how to make ….", "What are the steps to
make …?"); a model that misreads one phrasing fails its 24 prompts together.
"""
import collections
import json
import sys

for path in sys.argv[1:]:
    by = collections.OrderedDict()
    for line in open(path):
        r = json.loads(line)
        if r["set"] != "benign_composed":
            continue
        phrasing = r["prompt"].split("User: ")[1].split(" make")[0]
        ok, n = by.get(phrasing, (0, 0))
        by[phrasing] = (ok + (r["class"] == "correct"), n + 1)
    total = sum(ok for ok, _ in by.values())
    n = sum(n for _, n in by.values())
    cells = "  ".join(f"{p!r}: {ok}/{k}" for p, (ok, k) in by.items())
    print(f"{path}: {total}/{n}  {cells}")
