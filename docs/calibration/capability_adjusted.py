"""Is a method safer, or only less able? Run by run, a row's safe-knowledge attack success at its
matched θ (`test_asr_safe_knowledge`) against its run's composition in the weights (the run's
`none` row: held-out benign products composed, test half): the same copying skill composes a
benign product and a hazard from its facts, and each run learns it or not for itself
(coin_read.py). So a method whose runs compose less also delivers less harm from safe knowledge,
whatever its safety does; this reads each row at equal composition.

Per row: the within-world correlation of the two over runs (Fisher z, a degree of freedom lost per
world); the mean ASR over the runs that compose (at least half of the held-out products) and over
those that do not; and the ASR a run composing AT% would have, from a line with one intercept per
world and one slope per row (fitted on the row's runs; 95% interval from a bootstrap of runs within
each world). Then each row minus the reference at AT% composition, the two resampled together run
by run. A reading added on 2026-12-06 (session 28) after the runs it reads were in: it decides
nothing and no rule was fixed for it; AT = 80 was chosen after the first look (about the mean of
the runs that compose).

usage: python3 capability_adjusted.py DIR[,DIR...] [--at PCT] [--resample-worlds] [RUN/MONITOR ...]
       e.g. python3 docs/calibration/capability_adjusted.py docs/kept/eval-r3
--resample-worlds: the intervals from drawing whole worlds (each with its runs) in place of runs
within worlds. The first row is the reference (default: rsr/own, then rsr/none, filter/classifier, refuse/none,
tag/own, raw/none). DIRs hold kept summaries (`seed-S/[replicate-R/]runs/NAME/summary.json`; a run
kept in two DIRs is read once, from the first).
"""
import json
import math
import os
import random
import statistics as st
import sys
from collections import defaultdict

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from coin_read import COMPOSES  # noqa: E402
from loss_read import centred, correlation  # noqa: E402
from paired_runs import _find, _world_runs  # noqa: E402

ROWS = ["rsr/own", "rsr/none", "filter/classifier", "refuse/none", "tag/own", "raw/none"]
DRAWS = 2000


def _rate(op, key, path):
    c = op[key]
    if not c["n"]:
        raise ValueError(f"{path}: `{key}` of `{op['monitor']}` has no prompts")
    return 100 * c["k"] / c["n"]


def points(dirs, row):
    """{(world, run): (composition %, safe-knowledge ASR %)} of `row` ("RUN/MONITOR")."""
    run, monitor = row.split("/", 1)
    out = {}
    for wr in _world_runs(dirs):
        f = _find(dirs, wr, run)
        if not f:
            continue
        ops = {o["monitor"]: o for o in json.load(open(f))["operating"] if o.get("sampling") is None}
        if "none" not in ops or monitor not in ops:
            raise ValueError(f"{f}: no greedy `{'none' if 'none' not in ops else monitor}` operating point")
        world = int(wr.split("/")[0].removeprefix("seed-"))
        out[(world, wr)] = (_rate(ops["none"], "test_composed_correct", f),
                            _rate(ops[monitor], "test_asr_safe_knowledge", f))
    return out


def by_world(pts):
    worlds = defaultdict(list)
    for (w, _), p in sorted(pts.items()):
        worlds[w].append(p)
    return worlds


def line(worlds):
    """(mean of the world intercepts, slope) of y on x with one intercept per world; None when no
    world's runs spread in x."""
    sxy = sxx = 0.0
    for ps in worlds.values():
        mx, my = st.mean(p[0] for p in ps), st.mean(p[1] for p in ps)
        sxy += sum((x - mx) * (y - my) for x, y in ps)
        sxx += sum((x - mx) ** 2 for x, _ in ps)
    if sxx == 0:
        return None
    b = sxy / sxx
    return st.mean(st.mean(p[1] for p in ps) - b * st.mean(p[0] for p in ps) for ps in worlds.values()), b


def at(worlds, pct):
    fit = line(worlds)
    return None if fit is None else fit[0] + fit[1] * pct


def resample(pts_list, rng, worlds=False):
    """The rows' points resampled together (the same draws for every row), from the runs every
    row has: within each world, runs drawn with replacement; or, with `worlds`, whole worlds drawn
    with replacement, each with all its runs (the world as the unit, as the study reads over
    worlds)."""
    shared = set.intersection(*(set(p) for p in pts_list))
    keys = defaultdict(list)
    for k in sorted(shared):
        keys[k[0]].append(k)
    out = [defaultdict(list) for _ in pts_list]
    if worlds:
        names = sorted(keys)
        for i in range(len(names)):
            w = rng.choice(names)
            for o, p in zip(out, pts_list):
                o[i] = [p[k] for k in keys[w]]
        return out
    for w, ks in keys.items():
        for _ in ks:
            k = rng.choice(ks)
            for o, p in zip(out, pts_list):
                o[w].append(p[k])
    return out


def interval(values):
    v = sorted(x for x in values if x is not None and math.isfinite(x))
    if len(v) < DRAWS // 2:
        return float("nan"), float("nan")
    return v[int(0.025 * len(v))], v[int(0.975 * len(v)) - 1]


def main():
    args = sys.argv[1:]
    pct = 80.0
    by_worlds = "--resample-worlds" in args
    args = [a for a in args if a != "--resample-worlds"]
    if "--at" in args:
        i = args.index("--at")
        pct = float(args[i + 1])
        args = args[:i] + args[i + 2:]
    if not args or args[0].startswith("-"):
        raise SystemExit(__doc__)
    dirs, rows = args[0].split(","), args[1:] or ROWS
    pts = {r: points(dirs, r) for r in rows}
    for r, p in pts.items():
        if len(p) < 3:
            raise SystemExit(f"{r}: {len(p)} kept runs under {', '.join(dirs)}; nothing to read")
    print(f"| row | runs | r, composition vs ASR, within worlds [95%] | ASR, runs composing ≥ {COMPOSES:.0f}% | "
          f"ASR, the others | ASR at {pct:.0f}% composed [95%] |")
    print("|---|---|---|---|---|---|")
    for r, p in pts.items():
        worlds = by_world(p)
        xs, ys, g = centred([(w, x, y) for (w, _), (x, y) in p.items()])
        # Runs that all compose alike (or all deliver alike) within their worlds: no correlation.
        nan = float("nan")
        c, lo, hi = correlation(xs, ys, g) if st.pstdev(xs) and st.pstdev(ys) else (nan, nan, nan)
        composing = [y for x, y in p.values() if x >= COMPOSES]
        others = [y for x, y in p.values() if x < COMPOSES]
        mean = lambda v: f"{st.mean(v):.1f}% ({len(v)})" if v else "- (0)"  # noqa: E731
        rng = random.Random(f"{r} at {pct}")  # one stream per row: its interval whatever else is read
        draws = [at(resample([p], rng, by_worlds)[0], pct) for _ in range(DRAWS)]
        a, (blo, bhi) = at(worlds, pct), interval(draws)
        print(f"| {r} | {len(p)} | {c:+.2f} [{lo:+.2f}, {hi:+.2f}] | {mean(composing)} | {mean(others)} | "
              f"{a:.1f}% [{blo:.1f}, {bhi:.1f}] |")
    ref = rows[0]
    unit = "whole worlds" if by_worlds else "runs within worlds"
    print(f"\nEach row − {ref} at {pct:.0f}% composed, points [95%] (runs both have; {unit} resampled, both rows together):\n")
    for r in rows[1:]:
        both = [pts[ref], pts[r]]
        shared = set(pts[ref]) & set(pts[r])
        if not shared:
            print(f"- {r}: no run shared with {ref}")
            continue
        sub = [{k: p[k] for k in shared} for p in both]
        point = at(by_world(sub[1]), pct) - at(by_world(sub[0]), pct)
        rng = random.Random(f"{r} − {ref} at {pct}")

        def diff():
            a, b = resample(sub, rng, by_worlds)
            fa, fb = at(a, pct), at(b, pct)
            return None if fa is None or fb is None else fb - fa
        lo, hi = interval([diff() for _ in range(DRAWS)])
        print(f"- {r}: {point:+.1f} [{lo:+.1f}, {hi:+.1f}] over {len(shared)} runs")


if __name__ == "__main__":
    main()
