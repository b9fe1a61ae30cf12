"""The test of the sixth hypothesis of docs/ablations.md (filter sees its corpus more often):
filter at raw's passes against raw and filter at equal compute, held-out benign composition
with no monitor (and the other rows beside), from a study's results.json.

usage: python3 passes_read.py calib/passes-r3/results.json

Rule, fixed before the models were trained: supported if filter@passes / none keeps less than
half of filter / none's lead over raw / none (pooled rates over the same prompts and runs),
refuted if it keeps more than half.
"""
import json
import sys

res = json.load(open(sys.argv[1]))
rows = {(r["run"], r["monitor"]): r for r in res["rows"] if r.get("sampling") is None}


def pooled(r, field):
    p = r[field]["pooled"]
    return p["k"] / p["n"]


print("| run / monitor | composed (pooled) | per world | benign + look-alike correct | safe-knowledge ASR | over-refusal | ppl safe |")
print("|---|---|---|---|---|---|---|")
for run in ["raw", "filter", "filter@passes"]:
    for mon in ["none", "classifier"]:
        r = rows.get((run, mon))
        if not r:
            continue
        per = ", ".join(f"{100 * x:.1f}" for x in r["composed_correct"]["per_seed"])
        ppl = sum(r["ppl_text"]) / len(r["ppl_text"]) if r["ppl_text"] else float("nan")
        print(f"| {run} / {mon} | {100 * pooled(r, 'composed_correct'):.1f}% | {per} | "
              f"{100 * pooled(r, 'benign_correct'):.1f}% | {100 * pooled(r, 'asr_safe_knowledge'):.1f}% | "
              f"{100 * pooled(r, 'over_refusal'):.1f}% | {ppl:.3f} |")

raw, flt, fp = (pooled(rows[(v, "none")], "composed_correct") for v in ["raw", "filter", "filter@passes"])
lead, kept = flt - raw, fp - raw
print(f"\nfilter / none leads raw / none by {100 * lead:+.1f} points; filter@passes / none by {100 * kept:+.1f}")
if lead <= 0:
    print("filter does not lead raw here: the test cannot say anything")
else:
    share = kept / lead
    verdict = "supported" if share < 0.5 else "refuted"
    print(f"filter@passes keeps {100 * share:.0f}% of the lead: {verdict}")
