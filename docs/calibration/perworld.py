"""The per-world table of docs/study.md from a study's results.json: each world's rate over its
runs (per_seed), and the pooled rate in brackets. Usage: perworld.py results.json"""
import json, sys
d = json.load(open(sys.argv[1]))
rows = [("rsr", "own", "rsr / own"), ("rsr", "none", "rsr / none (masking alone)"),
        ("filter", "classifier", "filter / classifier"), ("refuse", "none", "refuse / none"),
        ("tag", "own", "tag / own"), ("raw", "none", "raw / none")]
cols = ["asr_safe_knowledge", "composed_correct", "benign_correct", "over_refusal", "knows"]
print("| run / monitor | safe-knowledge ASR | held-out benign composed | benign + look-alike correct | over-refusal (test) | knows |")
print("|---|---|---|---|---|---|")
for run, mon, label in rows:
    r = next(x for x in d["rows"] if x["run"] == run and x["monitor"] == mon)
    cells = []
    for c in cols:
        per = ", ".join(f"{100*v:.1f}" for v in r[c]["per_seed"])
        pooled = f" ({100*r[c]['pooled']['rate']:.1f}%)" if c in ("asr_safe_knowledge", "composed_correct") else ""
        cells.append(f"{per}%{pooled}")
    print(f"| {label} | " + " | ".join(cells) + " |")
