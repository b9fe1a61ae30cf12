"""The verdicts of docs/ablations.md's hypotheses, read mechanically from an ablation study's
kept runs by the rule fixed before the table was read (docs/ablations.md, "How each hypothesis
is read").

usage: python3 hypotheses_read.py DIR [DIR ...]

DIRs as for paired_runs.py (the study's directory, or copies of its kept files). Every
difference is paired on the same prompts as `rsr study` pairs them (each prompt averaged over its
world's training runs, pooled over worlds, a 95% bootstrap interval over prompts within worlds),
on held-out benign composition. Two readings:

  own:  A / own  − rsr / own   (the method as it is used; the gap G = filter / classifier − rsr / own)
  none: A / none − rsr / none  (the weights alone, no reflection decoded; G = filter / none − rsr / none)

A reading's verdict, for a difference D with interval [lo, hi] and the gap G of the same reading:
  supported  lo > 0 and D >= G/2     (closes at least half the gap, and the gain is real)
  partly     lo > 0 and D <  G/2
  refuted    lo <= 0 and hi < G/2    (no detectable gain, and half the gap is ruled out)
  open       lo <= 0 and hi >= G/2
and when G <= 0 there is no gap in that reading to explain ("no gap").
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from paired_runs import paired, worlds_with  # noqa: E402

COMPOSED = "held-out benign products composed"
dirs = sys.argv[1:]
if not dirs:
    sys.exit(__doc__)


def pts(x):
    return f"{100 * x:+.1f}"


def fmt(p):
    if p is None:
        return "not in this study"
    lo, hi = p["interval"]
    worlds = ", ".join(pts(d) for d in p["per_world"].values())
    return f"{pts(p['point'])} [{pts(lo)}, {pts(hi)}] (worlds {worlds})"


def verdict(p, gap):
    if p is None or gap is None:
        return "not in this study"
    if gap["point"] <= 0:
        return "no gap"
    d, (lo, hi), half = p["point"], p["interval"], gap["point"] / 2
    if lo > 0:
        return "supported" if d >= half else "partly"
    return "refuted" if hi < half else "open"


ablations = ["rsr-equal-trained", "rsr-nomask", "rsr-answer-mask", "rsr-redirect", "rsr-every64", "rsr-safe1",
             "rsr-continued"]
# Every difference is read on the worlds the ablations were trained on (worlds 0–2 of the
# evaluation study): the gaps too, not on every world rsr and filter have.
worlds = set().union(*(worlds_with(a, dirs) for a in ablations))
if not worlds:
    sys.exit("no ablation of rsr in these directories: nothing to read")
print(f"worlds read: {', '.join(sorted(worlds))}")
gaps = {
    "own": paired("rsr", "own", "filter", "classifier", dirs, COMPOSED, worlds),
    "none": paired("rsr", "none", "filter", "none", dirs, COMPOSED, worlds),
}
print("held-out benign composition, paired on the same prompts, points [95%]")
print()
for reading, g in gaps.items():
    label = "filter / classifier − rsr / own" if reading == "own" else "filter / none − rsr / none"
    print(f"gap ({reading}): {label} = {fmt(g)}")
monitor_cost = paired("rsr", "own", "rsr", "none", dirs, COMPOSED, worlds)
print(f"rsr / none − rsr / own (what decoding with its reflections costs) = {fmt(monitor_cost)}")
print()

print("| ablation | D, own | verdict, own | D, none | verdict, none |")
print("|---|---|---|---|---|")
read = {}
for a in ablations:
    own = paired("rsr", "own", a, "own", dirs, COMPOSED, worlds)
    none = paired("rsr", "none", a, "none", dirs, COMPOSED, worlds)
    read[a] = {"own": (own, verdict(own, gaps["own"])), "none": (none, verdict(none, gaps["none"]))}
    print(f"| {a} | {fmt(own)} | {read[a]['own'][1]} | {fmt(none)} | {read[a]['none'][1]} |")

print()
print("The hypotheses, by the rule:")
print(f"- fewer trained tokens (rsr-equal-trained, weights): {read['rsr-equal-trained']['none'][1]}")
print(f"- an untrained continuation (rsr-redirect, as used): {read['rsr-redirect']['own'][1]}")
decoding = verdict(monitor_cost, gaps["own"])
print(f"- decoding with reflections (composition judged unsafe + reflections inside answers; "
      f"rsr / none against rsr / own): {decoding} (split between the two by `rsr gym diagnose`)")
e64, s1 = read["rsr-every64"]["none"], read["rsr-safe1"]["none"]
if e64[0] is None or s1[0] is None:
    cap = "not in this study"
elif e64[1] in ("supported", "partly") and s1[0]["interval"][1] < 0:
    cap = f"{e64[1]} (fewer reflections compose more, more compose less)"
elif e64[1] == "refuted":
    cap = "refuted (fewer reflections do not compose more)"
else:
    cap = "open"
print(f"- capacity spent on reflections (rsr-every64 and rsr-safe1, weights): {cap}")
