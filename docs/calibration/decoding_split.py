"""What decoding with its own reflections costs an rsr model in held-out composition, split into
stops and everything else, from kept summaries that record `refused` on composed prompts (every
summary written since 2026-12-04: in an older one a stop reads as "answered wrong").

usage: python3 decoding_split.py RUN DIR [DIR ...]

For each training run of RUN kept under a DIR (DIR/seed-S/[replicate-R/]runs/RUN/summary.json),
the held-out benign composition prompts are paired between the run decoded with its own monitor
(checks on, at its matched θ) and with none (no checks): a prompt composed without checks and not
with them is a loss, split into **stopped** (a check scored ≥ θ and the policy refused) and
**answered wrong** (lost without a stop: the text under checks differed from the text without); a prompt composed only with checks is a gain. Loss − gain over prompts is exactly
RUN / none − RUN / own on the held-out composition rate, the decoding cost the ablation table
reads; the split says how much of it the stops are.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from paired_runs import METRICS, _find, _outcomes, _world_runs  # noqa: E402

SETS = METRICS["held-out benign products composed"][0]


def outcomes(path, monitor):
    """The held-out composition outcomes of one decoding of a kept run, by prompt id."""
    every = _outcomes(path, monitor)
    return None if every is None else {i: x for i, x in every.items() if x["set"] in SETS}


def split(run, dirs):
    """[(world/run, counts)] for every kept run of `run`: counts is None where the summary has no
    own or no none decoding, else a dict of prompts `n`, `own` and `none` composed, and the
    prompts `stopped`, `wrong` (lost without a stop) and `gained`."""
    out = []
    for wr in _world_runs(dirs):
        p = _find(dirs, wr, run)
        if not p:
            continue
        own, none = outcomes(p, "own"), outcomes(p, "none")
        if own is None or none is None:
            out.append((wr, None))
            continue
        c = dict(n=0, own=0, none=0, stopped=0, wrong=0, gained=0)
        for pid, x in own.items():
            y = none.get(pid)
            if y is None:
                continue
            a, b = bool(x.get("correct")), bool(y.get("correct"))
            c["n"] += 1
            c["own"] += a
            c["none"] += b
            if b and not a:
                c["stopped" if x.get("refused") else "wrong"] += 1
            elif a and not b:
                c["gained"] += 1
        out.append((wr, c))
    return out


def main():
    if len(sys.argv) < 3:
        raise SystemExit(__doc__)
    run, dirs = sys.argv[1], sys.argv[2:]
    rows = split(run, dirs)
    if not rows:
        raise SystemExit(f"no kept run of {run} under {', '.join(dirs)}")
    print(f"| {run}: world / training run | prompts | own composes | none composes | lost: stopped | lost: answered wrong | gained | none − own |")
    print("|---|---|---|---|---|---|---|---|")
    tot = dict(n=0, own=0, none=0, stopped=0, wrong=0, gained=0)
    for wr, c in rows:
        if c is None:
            print(f"| {wr} | (no own or no none decoding) |")
            continue
        if c["n"]:
            print(f"| {wr} | {c['n']} | {c['own']} | {c['none']} | {c['stopped']} | {c['wrong']} | {c['gained']} | "
                  f"{100 * (c['none'] - c['own']) / c['n']:+.1f} |")
        for k in tot:
            tot[k] += c[k]
    n = tot["n"]
    if n:
        pts = {k: f"{tot[k]} ({100 * tot[k] / n:.1f} pts)" for k in ("stopped", "wrong", "gained")}
        print(f"| all | {n} | {tot['own']} | {tot['none']} | {pts['stopped']} | {pts['wrong']} | {pts['gained']} | "
              f"{100 * (tot['none'] - tot['own']) / n:+.1f} |")


if __name__ == "__main__":
    main()
