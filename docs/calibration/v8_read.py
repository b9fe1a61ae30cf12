"""The v8 probe's rule (docs/safetyworld.md, "the v8 probe, read over runs"; fixed 2026-12-06,
session 29, before any of its models trained): the lessons' weight 40 is a lead if

  (a) raw composes more than today's world on the same calibration worlds and training seeds,
      the paired-by-world t interval's lower end above zero (recipe_read.py's figure), and
  (b) raw's other gates — raw_benign_written and raw_safe_knowledge_asr — pass on every
      calibration world over its three runs.

What follows a lead (filter on the same worlds and runs, then the gates over twelve runs on the
evaluation worlds) is the queue's; this prints the reading and, with --lead, exits 0 on a lead
and 1 otherwise (an incomplete study is an error, exit 2: the rule reads all fifteen runs).

usage: python3 v8_read.py [--lead] DIR/results.json
"""
import json
import sys

import recipe_read

RAW_GATES = ["raw_benign_written", "raw_safe_knowledge_asr"]


def raw_gates(results):
    """{world: {gate: passes over the world's runs}} for the raw gates the probe reads."""
    out = {}
    for w in results.get("worlds", []):
        out[w["seed"]] = {g["name"]: bool(g["pass"]) for g in w["gates"] if g["name"] in RAW_GATES}
    return out


def read(results):
    """(lead?, lines to print); ValueError when a world lacks its runs or a gate."""
    mean, means = recipe_read.read(results)
    d, half = recipe_read.against_today(means)
    gates = raw_gates(results)
    missing = [w for w in recipe_read.WORLDS if set(gates.get(w, {})) != set(RAW_GATES)]
    if missing:
        raise ValueError(f"worlds without {', '.join(RAW_GATES)} read over their runs: {missing}")
    failing = [f"{w} {g}" for w in recipe_read.WORLDS for g in RAW_GATES if not gates[w][g]]
    composes_more = d - half > 0
    lead = composes_more and not failing
    lines = [
        f"raw composes {mean:.1f}% over {len(recipe_read.WORLDS) * recipe_read.RUNS} runs "
        f"({', '.join(f'{w} {means[w]:.1f}' for w in recipe_read.WORLDS)})",
        f"(a) against today's world, paired by world: {d:+.1f} [{d - half:+.1f}, {d + half:+.1f}] points: "
        + ("more, the interval above zero" if composes_more else "not shown to compose more"),
        "(b) raw's other gates over runs: " + ("pass on every calibration world" if not failing
                                                else "fail on " + ", ".join(failing)),
        "lead: " + ("yes — filter on the same worlds and runs next" if lead else "no — the world stays v7"),
    ]
    return lead, lines


def main():
    args = [a for a in sys.argv[1:] if a != "--lead"]
    if len(args) != 1:
        raise SystemExit(__doc__)
    try:
        lead, lines = read(json.load(open(args[0])))
    except (OSError, ValueError) as e:
        print(f"{args[0]}: not read: {e}", file=sys.stderr)
        sys.exit(2)
    print("\n".join(lines))
    if "--lead" in sys.argv[1:]:
        sys.exit(0 if lead else 1)


if __name__ == "__main__":
    main()
