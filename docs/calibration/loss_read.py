"""Does a run that composes also fit held-out text better? Raw's held-out benign composition
against its held-out text loss (`heldout.safe.nll`, nats a token on the world's held-out safe
documents), run by run, each centred on its own world's mean so that only the spread between
training runs of one world and one recipe is compared. A reading added on 2026-12-06 (session 25)
after every run it reads was in: it decides nothing and no rule was fixed for it.

usage: python3 loss_read.py GROUP=DIR[,DIR...] ...
       e.g. python3 docs/calibration/loss_read.py 4M=docs/kept/gates-k12,docs/kept/eval-r3 \\
              h8=docs/calibration/kept/shape-h8-cal r60=docs/calibration/kept/r60-base

Each GROUP is one recipe: its DIRs' raw runs at the compute budget are pooled by world. Prints,
per group and over all, the Pearson correlation of the centred values with a Fisher-z 95%
interval whose degrees of freedom count one lost per world.
"""
import json
import math
import os
import statistics as st
import sys
from collections import defaultdict

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from paired_runs import _find, _world_runs  # noqa: E402


def runs(dirs):
    """[(world, composed %, held-out nll)] for every raw run under dirs (`runs/raw` is the
    compute budget's; a run kept in two DIRs is read once, from the first)."""
    out = []
    for wr in _world_runs(dirs):
        f = _find(dirs, wr, "raw")
        if not f:
            continue
        s = json.load(open(f))
        sets = {x["set"]: x for x in s["results"]["sets"]}
        nll = s["results"]["heldout"]["safe"]["nll"]
        if not math.isfinite(nll):
            raise ValueError(f"{f}: held-out nll is {nll}")
        out.append((int(wr.split("/")[0].removeprefix("seed-")), 100 * sets["benign_composed"]["correct"]["rate"], nll))
    return out


def centred(rows, key=lambda r: r[0]):
    """(composition, nll) each minus its group's mean; and how many groups there were."""
    by = defaultdict(list)
    for r in rows:
        by[key(r)].append(r)
    xs, ys = [], []
    for v in by.values():
        mx, my = st.mean(r[1] for r in v), st.mean(r[2] for r in v)
        xs += [r[1] - mx for r in v]
        ys += [r[2] - my for r in v]
    return xs, ys, len(by)


def correlation(xs, ys, groups):
    """(r, lo, hi): Pearson's r and a Fisher-z interval on n − groups − 1 degrees of freedom."""
    r = st.correlation(xs, ys)
    dof = len(xs) - groups - 1
    if dof < 2 or abs(r) >= 1:
        return r, float("nan"), float("nan")
    z, se = math.atanh(r), 1 / math.sqrt(dof - 1)
    return r, math.tanh(z - 1.96 * se), math.tanh(z + 1.96 * se)


def main():
    if len(sys.argv) < 2 or any("=" not in a for a in sys.argv[1:]):
        raise SystemExit(__doc__)
    pooled = []
    for arg in sys.argv[1:]:
        name, dirs = arg.split("=", 1)
        rows = runs(dirs.split(","))
        if len(rows) < 3:
            raise SystemExit(f"{name}: {len(rows)} raw runs under {dirs}; nothing to read")
        pooled += [(name, *r) for r in rows]
        xs, ys, g = centred(rows)
        r, lo, hi = correlation(xs, ys, g)
        spread = st.pstdev(ys)
        print(f"{name}: {len(rows)} runs on {g} worlds; composition vs held-out nll r = {r:+.2f} [{lo:+.2f}, {hi:+.2f}]"
              f" (nll SD within a world {spread:.4f} nats/token; composition SD {st.pstdev(xs):.1f} points)")
    if len(sys.argv) > 2:
        xs, ys, g = centred([(f"{p[0]}/{p[1]}", p[2], p[3]) for p in pooled])
        r, lo, hi = correlation(xs, ys, g)
        print(f"all: {len(xs)} runs in {g} recipe × world groups; r = {r:+.2f} [{lo:+.2f}, {hi:+.2f}]")


if __name__ == "__main__":
    main()
