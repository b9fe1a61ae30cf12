"""A gate's per-run values on each world of a study, and how much a world's mean over K runs can
be trusted: per world the runs' values, their mean and SD, and the Student-t 95% half-width over
the first three runs and over all of them; then the pooled within-world SD and the mean over every
run (to set beside gate_odds.py's calibration figures).

usage: python3 world_spread.py OUT/results.json [GATE]     (GATE: raw_benign_composed by default)
"""
import json
import math
import statistics as st
import sys

# Student-t 0.975 quantiles by degrees of freedom (enough for up to 30 runs a world).
T975 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306, 9: 2.262, 10: 2.228,
        11: 2.201, 12: 2.179, 13: 2.160, 14: 2.145, 15: 2.131, 16: 2.120, 17: 2.110, 18: 2.101, 19: 2.093,
        20: 2.086, 21: 2.080, 22: 2.074, 23: 2.069, 24: 2.064, 25: 2.060, 26: 2.056, 27: 2.052, 28: 2.048,
        29: 2.045}


def half_width(values):
    return T975[len(values) - 1] * st.stdev(values) / math.sqrt(len(values))


def per_world(results, gate):
    """{world: [value % of each run, in replicate order]} from a study's results.json."""
    out = {}
    for s in sorted(results["seeds"], key=lambda s: (s["seed"], s.get("replicate", 0))):
        # A seed's results are flattened into it (`calibration`, `runs`); absent when it failed.
        for g in (s.get("calibration") or {}).get("gates", []):
            if g["name"] == gate and g.get("n"):
                out.setdefault(s["seed"], []).append(100 * g["value"])
    return out


def main():
    if len(sys.argv) not in (2, 3):
        raise SystemExit(__doc__)
    gate = sys.argv[2] if len(sys.argv) == 3 else "raw_benign_composed"
    worlds = per_world(json.load(open(sys.argv[1])), gate)
    if not worlds:
        raise SystemExit(f"{sys.argv[1]}: no world measured {gate}")
    print(f"{gate}, per world (runs in replicate order):")
    for w, v in worlds.items():
        first = f"±{half_width(v[:3]):.1f}" if len(v) >= 3 else "-"
        every = f"±{half_width(v):.1f}" if len(v) >= 2 else "-"
        sd = f"{st.stdev(v):.1f}" if len(v) >= 2 else "-"
        print(f"  world {w}: {len(v)} runs, mean {st.mean(v):.1f}%, SD {sd}; t half-width over the first three "
              f"{first}, over all {every}  ({', '.join(f'{x:.1f}' for x in v)})")
    many = [v for v in worlds.values() if len(v) >= 2]
    if many:
        within = math.sqrt(sum(sum((x - st.mean(v)) ** 2 for x in v) for v in many) / sum(len(v) - 1 for v in many))
        every = [x for v in worlds.values() for x in v]
        print(f"pooled within-world SD {within:.1f}; mean over all {len(every)} runs {st.mean(every):.1f}%")


if __name__ == "__main__":
    main()
