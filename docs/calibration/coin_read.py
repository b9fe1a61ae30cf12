"""Is the per-run coin on composition the training seed's, or each model's own? Every variant's
held-out benign composition run by run — its `none` row (no monitor: θ = ∞, greedy; for rsr what
its weights do when no check stops), the held-out composed prompts of the test half answered
right (`test_composed_correct`), the same decoding for every variant — read two ways:

1. the runs of each variant that compose (at least half of the world's held-out products), with a
   Wilson 95% interval, their mean, how many land in the middle (30-70%) — a coin shows as runs
   at both ends and few between — and the SD of a run about its world's mean (what retraining
   alone moves one run by);
2. for two variants trained on the same world with the same training seed (the same replicate),
   the correlation of their composition over those shared runs, each centred on its world's mean
   (only the spread between training runs of a world is compared), with a Fisher-z 95% interval
   on n - worlds - 1 degrees of freedom. Near +1: the coin is the training seed's (its
   initialisation, its order of steps), and a comparison paired by run cancels it; near 0: each
   model flips its own, and only more runs narrow a comparison of composition.

A reading added on 2026-12-06 (session 28) after every run it reads was in: it decides nothing
and no rule was fixed for it.

usage: python3 coin_read.py [--pair A:B ...] GROUP=DIR[,DIR...] ...
       e.g. python3 docs/calibration/coin_read.py --pair raw:filter --pair raw:rsr \\
              4M=docs/kept/eval-r3,docs/kept/gates-k12 r60-base=docs/calibration/kept/r60-base

Each GROUP is one recipe: its DIRs hold kept summaries (`seed-S/[replicate-R/]runs/NAME/summary.json`,
the compute budget's runs; a run kept in two DIRs is read once, from the first). Per group: the
table, then each pair's correlation (without --pair, every pair of variants with at least six
shared runs); with more than one group, each pair again over every group at once, centred on each
(group, world).
"""
import itertools
import json
import math
import os
import statistics as st
import sys
from collections import defaultdict

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from loss_read import correlation  # noqa: E402
from paired_runs import _find, _world_runs  # noqa: E402

COMPOSES = 50.0  # a run "composes" when it gets at least half of the held-out products right


def composition(dirs):
    """{variant: {(world, run): composed %}} for every kept run under dirs at the compute budget
    (`runs/NAME`, no `@budget`)."""
    out = defaultdict(dict)
    world_runs = _world_runs(dirs)
    names = {n for d in dirs for wr in world_runs if os.path.isdir(os.path.join(d, wr, "runs"))
             for n in os.listdir(os.path.join(d, wr, "runs"))}
    for wr in world_runs:
        world = int(wr.split("/")[0].removeprefix("seed-"))
        for name in sorted(n for n in names if "@" not in n and n != "control"):
            f = _find(dirs, wr, name)
            if not f:
                continue
            none = [o for o in json.load(open(f))["operating"] if o["monitor"] == "none" and o.get("sampling") is None]
            if len(none) != 1:
                raise ValueError(f"{f}: {len(none)} greedy `none` operating points, expected one")
            c = none[0]["test_composed_correct"]
            if not c["n"]:
                raise ValueError(f"{f}: no held-out composed prompt in its test half")
            out[name][(world, wr)] = 100 * c["k"] / c["n"]
    return out


def wilson(k, n):
    """Wilson 95% interval of k of n, in percent."""
    if n == 0:
        return float("nan"), float("nan")
    z, p = 1.96, k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return 100 * (centre - half), 100 * (centre + half)


def within_sd(runs):
    """The SD of a variant's runs about their own world's mean ({(world, run): %}), on n − worlds
    degrees of freedom: the spread retraining alone gives one run; nan with no world of two runs."""
    by = defaultdict(list)
    for (w, _), x in runs.items():
        by[w].append(x)
    dof = len(runs) - len(by)
    if dof < 1:
        return float("nan")
    return math.sqrt(sum((x - st.mean(v)) ** 2 for v in by.values() for x in v) / dof)


def coins(values):
    """(runs, composing, middle, mean) of a variant's composition values (percent)."""
    xs = list(values)
    return len(xs), sum(x >= COMPOSES for x in xs), sum(30 < x < 70 for x in xs), st.mean(xs)


def shared(a, b):
    """The two variants' composition over the runs both have, each centred on its world's mean
    (worlds with a single shared run carry no spread and are left out), and the worlds kept."""
    by = defaultdict(list)
    for key in a.keys() & b.keys():
        by[key[0]].append(key)
    xs, ys, worlds = [], [], 0
    for keys in by.values():
        if len(keys) < 2:
            continue
        worlds += 1
        ma, mb = st.mean(a[k] for k in keys), st.mean(b[k] for k in keys)
        xs += [a[k] - ma for k in keys]
        ys += [b[k] - mb for k in keys]
    return xs, ys, worlds


def read_pair(groups, a, b):
    """(xs, ys, worlds) of the pair over every group, each (group, world) centred on its own."""
    xs, ys, worlds = [], [], 0
    for comp in groups.values():
        if a in comp and b in comp:
            x, y, w = shared(comp[a], comp[b])
            xs, ys, worlds = xs + x, ys + y, worlds + w
    return xs, ys, worlds


def say_pair(label, xs, ys, worlds):
    if len(xs) < 3 or st.pstdev(xs) == 0 or st.pstdev(ys) == 0:
        print(f"{label}: {len(xs)} shared runs with a spread; nothing to read")
        return
    r, lo, hi = correlation(xs, ys, worlds)
    print(f"{label}: within-world r = {r:+.2f} [{lo:+.2f}, {hi:+.2f}] over {len(xs)} shared runs on {worlds} worlds")


def main():
    args, pairs = sys.argv[1:], []
    while args and args[0] == "--pair":
        if len(args) < 2 or ":" not in args[1]:
            raise SystemExit(__doc__)
        pairs.append(tuple(args[1].split(":", 1)))
        args = args[2:]
    if not args or any("=" not in a for a in args):
        raise SystemExit(__doc__)
    groups = {}
    for arg in args:
        name, dirs = arg.split("=", 1)
        groups[name] = composition(dirs.split(","))
        if not groups[name]:
            raise SystemExit(f"{name}: no kept summaries under {dirs}")
    for name, comp in groups.items():
        print(f"{name}\n\n| variant | runs | composing (≥ {COMPOSES:.0f}%) [95%] | 30–70% | mean | SD of a run within its world |")
        print("|---|---|---|---|---|---|")
        for v in sorted(comp):
            n, k, mid, mean = coins(comp[v].values())
            lo, hi = wilson(k, n)
            print(f"| {v} | {n} | {k} ({100 * k / n:.0f}%) [{lo:.0f}, {hi:.0f}] | {mid} | {mean:.1f}% | "
                  f"{within_sd(comp[v]):.1f} |")
        print()
        for a, b in pairs or [p for p in itertools.combinations(sorted(comp), 2)
                              if len(comp[p[0]].keys() & comp[p[1]].keys()) >= 6]:
            if a in comp and b in comp:
                say_pair(f"{name}: {a} vs {b}", *shared(comp[a], comp[b]))
        print()
    if len(groups) > 1:
        for a, b in pairs:
            say_pair(f"all groups: {a} vs {b}", *read_pair(groups, a, b))


if __name__ == "__main__":
    main()
