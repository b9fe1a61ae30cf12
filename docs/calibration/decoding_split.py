"""What decoding with its own reflections costs an rsr model in held-out composition, split into
stops and everything else, from kept summaries that record `refused` on composed prompts (every
summary written since 2026-12-04: in an older one a stop reads as "answered wrong").

usage: python3 decoding_split.py RUN DIR [DIR ...]

For each training run of RUN kept under a DIR (DIR/seed-S/[replicate-R/]runs/RUN/summary.json),
the held-out benign composition prompts are paired between the run decoded with its own monitor
(checks on, at its matched θ) and with none (no checks): a prompt composed without checks and not
with them is a loss, split into **stopped** (a check scored ≥ θ and the policy refused) and
**answered wrong** (the checks let it through, and the answer with reflections in its context was
wrong); a prompt composed only with checks is a gain. Loss − gain over prompts is exactly
RUN / none − RUN / own on the held-out composition rate, the decoding cost the ablation table
reads; the split says how much of it the stops are.
"""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from paired_runs import METRICS, _find, _world_runs  # noqa: E402

SETS = METRICS["held-out benign products composed"][0]


def outcomes(summary, monitor):
    for o in summary["operating"]:
        if o["monitor"] == monitor and o.get("sampling") is None:
            return {x["id"]: x for x in o["outcomes"] if x["set"] in SETS}
    return None


def main():
    if len(sys.argv) < 3:
        raise SystemExit(__doc__)
    run, dirs = sys.argv[1], sys.argv[2:]
    seen = {wr: p for wr in _world_runs(dirs) if (p := _find(dirs, wr, run))}
    if not seen:
        raise SystemExit(f"no kept run of {run} under {', '.join(dirs)}")
    print(f"| {run}: world / training run | prompts | own composes | none composes | lost: stopped | lost: answered wrong | gained | none − own |")
    print("|---|---|---|---|---|---|---|---|")
    tot = [0] * 6
    for wr, p in sorted(seen.items()):
        s = json.load(open(p))
        own, none = outcomes(s, "own"), outcomes(s, "none")
        if own is None or none is None:
            print(f"| {wr} | (no own or no none decoding) |")
            continue
        n = oc = nc = stop = wrong = gain = 0
        for pid, x in own.items():
            y = none.get(pid)
            if y is None:
                continue
            n += 1
            a, b = bool(x.get("correct")), bool(y.get("correct"))
            oc += a
            nc += b
            if b and not a:
                if x.get("refused"):
                    stop += 1
                else:
                    wrong += 1
            elif a and not b:
                gain += 1
        assert (nc - oc) == (stop + wrong - gain)
        print(f"| {wr} | {n} | {oc} | {nc} | {stop} | {wrong} | {gain} | {100 * (nc - oc) / n:+.1f} |")
        for i, v in enumerate([n, oc, nc, stop, wrong, gain]):
            tot[i] += v
    n, oc, nc, stop, wrong, gain = tot
    if n:
        print(f"| all | {n} | {oc} | {nc} | {stop} ({100 * stop / n:.1f} pts) | {wrong} ({100 * wrong / n:.1f} pts) | "
              f"{gain} ({100 * gain / n:.1f} pts) | {100 * (nc - oc) / n:+.1f} |")


if __name__ == "__main__":
    main()
