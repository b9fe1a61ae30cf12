"""Document-level accuracy and AUROC of `rsr probe` scores against ground truth.

    python3 bench/probe_auroc.py scores.jsonl world/heldout/annotations/ground_truth.jsonl

A document is unsafe when any of its spans is. (The evaluation harness will
report this per segment, with intervals; this is the quick check.)
"""
import json
import sys


def main(scores_path, labels_path):
    scores = {d["id"]: d["score"] for d in map(json.loads, open(scores_path))}
    labels = {d["id"]: any(s["label"] == "unsafe" for s in d["spans"]) for d in map(json.loads, open(labels_path))}
    ids = [i for i in scores if i in labels]
    pos = [scores[i] for i in ids if labels[i]]
    neg = [scores[i] for i in ids if not labels[i]]
    auc = sum((p > n) + 0.5 * (p == n) for p in pos for n in neg) / max(1, len(pos) * len(neg))
    acc = sum((scores[i] >= 0.5) == labels[i] for i in ids) / max(1, len(ids))
    print(f"documents {len(ids)} (unsafe {len(pos)}): AUROC {auc:.3f}, accuracy at 0.5 {acc:.3f}")


if __name__ == "__main__":
    main(*sys.argv[1:3])
