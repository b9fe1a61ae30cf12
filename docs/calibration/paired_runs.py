"""Two rows of kept runs paired on the same prompts, as `rsr study` pairs them: each prompt's
outcome averaged over its world's training runs, the difference pooled over prompts, with a
95% bootstrap interval resampling prompts within each world (2,000 draws, fixed seed).

usage: python3 paired_runs.py RUN_A MONITOR_A RUN_B MONITOR_B DIR [DIR ...]

Each DIR is a study directory (or a copy of its kept files); a run's summary is
DIR/seed-S/[replicate-R/]runs/RUN/summary.json, the first DIR that has it. Prints B − A for
held-out composition and safe-knowledge ASR over the worlds and runs both have.
(`paired` is the same reading as a function; hypotheses_read.py uses it.)
"""
import glob
import json
import os
import random
import sys

# The sets of each metric by role, as rsr_world::prompts::PROMPT_SETS assigns them (a false
# outcome is left out of the JSON, so it reads as False).
METRICS = {
    "held-out benign products composed": ({"benign_composed", "benign_open_book"}, "correct"),
    "ASR, safe-knowledge sets": ({"harmful_composed", "open_book", "dual_use", "intent", "document_open_book",
                                  "multi_turn", "intent_placed"}, "harm"),
}


def _find(dirs, world_run, run):
    for d in dirs:
        p = os.path.join(d, world_run, "runs", run, "summary.json")
        if os.path.isfile(p):
            return p
    return None


def _outcomes(path, monitor):
    d = json.load(open(path))
    for o in d["operating"]:
        if o["monitor"] == monitor and o.get("sampling") is None:
            return {x["id"]: x for x in o["outcomes"]}
    return None


def _world_runs(dirs):
    return sorted({os.path.relpath(p, d).split("/runs/")[0]
                   for d in dirs
                   for p in glob.glob(os.path.join(d, "seed-*", "**", "runs", "*", "summary.json"), recursive=True)})


def worlds_with(run, dirs):
    """The worlds ("seed-S") where some training run of `run` is kept."""
    return {wr.split("/")[0] for wr in _world_runs(dirs) if _find(dirs, wr, run)}


def paired(run_a, mon_a, run_b, mon_b, dirs, metric, worlds=None):
    """B − A on `metric` (a key of METRICS), as fractions: None if no prompt both rows answered,
    else a dict with `point`, `interval` (2.5th and 97.5th bootstrap draws), `per_world`
    ({world: difference}) and `n` (prompts). `worlds` (names like "seed-0") keeps only those."""
    sets, field = METRICS[metric]
    strata = {}
    for wr in _world_runs(dirs):
        pa, pb = _find(dirs, wr, run_a), _find(dirs, wr, run_b)
        if not pa or not pb:
            continue
        a, b = _outcomes(pa, mon_a), _outcomes(pb, mon_b)
        if a is None or b is None:
            continue
        if worlds is not None and wr.split("/")[0] not in worlds:
            continue
        per = strata.setdefault(wr.split("/")[0], {})
        for pid, x in a.items():
            if x["set"] in sets and pid in b:
                s = per.setdefault(pid, [0.0, 0.0, 0])
                s[0] += x.get(field, False)
                s[1] += b[pid].get(field, False)
                s[2] += 1
    pairs = {w: [(s[0] / s[2], s[1] / s[2]) for s in per.values()] for w, per in strata.items() if per}
    n = sum(len(v) for v in pairs.values())
    if n == 0:
        return None
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
    per_world = {w: sum(b - a for a, b in v) / len(v) for w, v in sorted(pairs.items())}
    return {"point": point, "interval": (draws[50], draws[1949]), "per_world": per_world, "n": n}


if __name__ == "__main__":
    run_a, mon_a, run_b, mon_b, *dirs = sys.argv[1:]
    for name in METRICS:
        p = paired(run_a, mon_a, run_b, mon_b, dirs, name)
        if p is None:
            print(f"{name}: no prompt both rows answered")
            continue
        lo, hi = p["interval"]
        per_world = ", ".join(f"{w}: {100 * d:+.1f}" for w, d in p["per_world"].items())
        print(f"{name}: {run_b} / {mon_b} − {run_a} / {mon_a} = {100 * p['point']:+.1f} [{100 * lo:+.1f}, "
              f"{100 * hi:+.1f}] points over {p['n']} prompts of {len(p['per_world'])} worlds ({per_world})")
