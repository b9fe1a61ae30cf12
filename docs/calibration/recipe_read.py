"""The recipe study's second figure (docs/safetyworld.md, "a recipe at 60% of the compute"): beside
the rule — a recipe reaches the gates if every calibration world passes every gate over its three
runs, read by `rsr gym check --study DIR` — how much each recipe's raw composes, over all fifteen
runs, and by how much more or less than today's recipe on the same worlds, the world the unit.

Three runs a world read a mean whose standard error is about 15 points (within-world SD ~26 over
sqrt 3), so a recipe can pass or fail a world by the draw of its training seeds; this figure says
whether it composes better or worse, which is what a recipe at 60% of the compute has to show.
It decides nothing (fixed 2026-12-05, before any recipe model trained).

usage: python3 recipe_read.py DIR/results.json [DIR/results.json ...]     (one per recipe)
"""
import math
import statistics as st
import sys

import gate_odds
import world_spread

GATE = "raw_benign_composed"
WORLDS = sorted(gate_odds.RUNS)  # the calibration worlds 100-104
RUNS = 3


def read(results):
    """(mean over every run, {world: mean over its runs}) of raw's composition; an error naming
    what is missing when a world has not all its runs in (a recipe is read only when complete)."""
    worlds = world_spread.per_world(results, GATE)
    missing = [w for w in WORLDS if len(worlds.get(w, [])) != RUNS]
    if missing:
        raise ValueError(f"worlds without {RUNS} runs of raw: {missing} — a recipe is read only when all are in")
    every = [x for w in WORLDS for x in worlds[w]]
    return st.mean(every), {w: st.mean(worlds[w]) for w in WORLDS}


def against_today(means):
    """Paired by world against today's recipe (4M tokens; gate_odds.RUNS, the same worlds and
    training seeds): the mean difference in points and its t half-width over the worlds."""
    diffs = [means[w] - st.mean(gate_odds.RUNS[w]) for w in WORLDS]
    half = world_spread.T975[len(diffs) - 1] * st.stdev(diffs) / math.sqrt(len(diffs))
    return st.mean(diffs), half


def main():
    if len(sys.argv) < 2:
        raise SystemExit(__doc__)
    import json

    today = [x for w in WORLDS for x in gate_odds.RUNS[w]]
    print(f"today's recipe (4M tokens): raw composes {st.mean(today):.1f}% over {len(today)} runs; "
          f"thinnest world {min(st.mean(gate_odds.RUNS[w]) for w in WORLDS):.1f}%")
    for path in sys.argv[1:]:
        try:
            mean, means = read(json.load(open(path)))
        except (OSError, ValueError) as e:
            print(f"{path}: not read: {e}")
            continue
        d, half = against_today(means)
        per = ", ".join(f"{w} {means[w]:.1f}" for w in WORLDS)
        print(f"{path}: raw composes {mean:.1f}% over {len(WORLDS) * RUNS} runs ({per}); thinnest world "
              f"{min(means.values()):.1f}%; against today's recipe {d:+.1f} [{d - half:+.1f}, {d + half:+.1f}] "
              f"points, paired by world")


if __name__ == "__main__":
    main()
