"""Assert two rsr JSON files hold the same results, timings and thread counts aside.

usage: python3 .ci/same_results.py A.json B.json "what it means when they differ"
"""
import json
import sys


def strip(v):  # timings (and the threads a run had) differ between runs; everything else is the same bytes
    if isinstance(v, dict):
        return {
            k: strip(x)
            for k, x in v.items()
            if not ("per_s" in k or k.endswith("seconds") or k.endswith("_s") or k.endswith("threads"))
        }
    if isinstance(v, list):
        return [strip(x) for x in v]
    return v


a, b, why = sys.argv[1:4]
assert strip(json.load(open(a))) == strip(json.load(open(b))), f"{why}: {a} against {b}"
print(f"same results (timings aside): {a} and {b}")
