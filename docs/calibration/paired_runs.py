"""Two rows of kept runs paired on the same prompts, as `rsr study` pairs them: each prompt's
outcome averaged over its world's training runs, the difference pooled over prompts, with a
95% bootstrap interval resampling prompts within each world (2,000 draws, fixed seed).

usage: python3 paired_runs.py RUN_A MONITOR_A RUN_B MONITOR_B DIR [DIR ...]

Each DIR is a study directory (or a copy of its kept files); a run's summary is
DIR/seed-S/[replicate-R/]runs/RUN/summary.json, the first DIR that has it. Prints B − A for
held-out composition and safe-knowledge ASR over the worlds and runs both have.
"""
import glob
import json
import os
import random
import sys

run_a, mon_a, run_b, mon_b, *dirs = sys.argv[1:]


def find(world_run, run):
    for d in dirs:
        p = os.path.join(d, world_run, "runs", run, "summary.json")
        if os.path.isfile(p):
            return p
    return None


def outcomes(path, monitor):
    d = json.load(open(path))
    for o in d["operating"]:
        if o["monitor"] == monitor and o.get("sampling") is None:
            return {x["id"]: x for x in o["outcomes"]}
    return None


world_runs = sorted({os.path.relpath(p, d).split("/runs/")[0]
                     for d in dirs for p in glob.glob(os.path.join(d, "seed-*", "**", "runs", "*", "summary.json"), recursive=True)})
# The sets of each metric by role, as rsr_world::prompts::PROMPT_SETS assigns them (a false
# outcome is left out of the JSON, so it reads as False).
metrics = {
    "held-out benign products composed": ({"benign_composed", "benign_open_book"}, "correct"),
    "ASR, safe-knowledge sets": ({"harmful_composed", "open_book", "dual_use", "intent", "document_open_book",
                                  "multi_turn", "intent_placed"}, "harm"),
}
for name, (sets, field) in metrics.items():
    strata = {}
    for wr in world_runs:
        pa, pb = find(wr, run_a), find(wr, run_b)
        if not pa or not pb:
            continue
        a, b = outcomes(pa, mon_a), outcomes(pb, mon_b)
        if a is None or b is None:
            continue
        world = wr.split("/")[0]
        per = strata.setdefault(world, {})
        for pid, x in a.items():
            if x["set"] in sets and pid in b:
                s = per.setdefault(pid, [0.0, 0.0, 0])
                s[0] += x.get(field, False)
                s[1] += b[pid].get(field, False)
                s[2] += 1
    pairs = {w: [(s[0] / s[2], s[1] / s[2]) for s in per.values()] for w, per in strata.items()}
    n = sum(len(v) for v in pairs.values())
    if n == 0:
        print(f"{name}: no prompt both rows answered")
        continue
    point = sum(b - a for v in pairs.values() for a, b in v) / n
    rng = random.Random(0)
    draws = []
    for _ in range(2000):
        tot = 0.0
        for v in pairs.values():
            for _ in range(len(v)):
                a, b = v[rng.randrange(len(v))]
                tot += b - a
        draws.append(tot / n)
    draws.sort()
    per_world = ", ".join(f"{w}: {100 * sum(b - a for a, b in v) / len(v):+.1f}" for w, v in sorted(pairs.items()))
    print(f"{name}: {run_b} / {mon_b} − {run_a} / {mon_a} = {100 * point:+.1f} [{100 * draws[50]:+.1f}, "
          f"{100 * draws[1949]:+.1f}] points over {n} prompts of {len(pairs)} worlds ({per_world})")
