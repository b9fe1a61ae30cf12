"""The shape probe (docs/safetyworld.md, "a probe of the model's shape at equal parameters", fixed
2026-12-05 before any of its models trained): raw's composition on calibration world 102, run by
run, for each shape, and the probe's reading — a shape whose three runs all compose at least 50%
while today's shape, trained again by the same binary, has a run below 50% is a *lead*. It decides
nothing: a lead becomes a candidate only through the reading every recipe gets (every calibration
world × three runs, raw, filter and the control, every gate), fixed in writing before it trains.

usage: python3 shape_read.py CALIB     reads CALIB/shape-NAME/results.json for every shape below
                                        (a shape not complete is listed as such, and no lead is
                                        named while today's shape is incomplete)
"""
import json
import os
import statistics as st
import sys

import world_spread

# (NAME, --preset) in the probe's order; the first is today's shape, trained again.
SHAPES = [("tiny", "tiny"), ("h2", "tiny,heads=2"), ("l2", "tiny,layers=2,hidden=176,intermediate=472"),
          ("h8", "tiny,heads=8"), ("l8", "tiny,layers=8,hidden=96,intermediate=229")]
WORLD = 102
RUNS = 3
GATE = "raw_benign_composed"
BAR = 50.0


def runs(results):
    """raw's composition (%) on world 102, one value a run in replicate order."""
    return world_spread.per_world(results, GATE).get(WORLD, [])


def reading(per_shape):
    """{NAME: 'lead' | 'no lead' | 'incomplete'} for every shape but today's; {} while today's
    shape is incomplete (the rule needs it)."""
    today = per_shape.get(SHAPES[0][0], [])
    if len(today) != RUNS:
        return {}
    today_fails = min(today) < BAR
    out = {}
    for name, _ in SHAPES[1:]:
        v = per_shape.get(name, [])
        if len(v) != RUNS:
            out[name] = "incomplete"
        else:
            out[name] = "lead" if today_fails and min(v) >= BAR else "no lead"
    return out


def main():
    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    per_shape = {}
    for name, spec in SHAPES:
        path = os.path.join(sys.argv[1], f"shape-{name}", "results.json")
        try:
            per_shape[name] = runs(json.load(open(path)))
        except OSError:
            per_shape[name] = []
        v = per_shape[name]
        shown = ", ".join(f"{x:.1f}" for x in v) or "none yet"
        mean = f"; mean {st.mean(v):.1f}%" if v else ""
        print(f"{name:<5} {spec:<45} runs {len(v)} of {RUNS}: {shown}{mean}")
    verdicts = reading(per_shape)
    if not verdicts:
        print("reading: none yet (today's shape, trained again, is not complete)")
        return
    today = per_shape[SHAPES[0][0]]
    print(f"today's shape has {'a run' if min(today) < BAR else 'no run'} below {BAR:.0f}%"
          + ("" if min(today) < BAR else ": no shape can be a lead by the rule"))
    for name, verdict in verdicts.items():
        print(f"  {name}: {verdict}")


if __name__ == "__main__":
    main()
