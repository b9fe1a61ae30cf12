"""The recipe study's rule (docs/safetyworld.md, "a recipe at 60% of the compute", fixed before any
of its models trained): a recipe reaches the gates if every calibration world passes every gate
over its three runs — the per-world reading `rsr gym check --study DIR` prints, which the study
writes to its results.json as `worlds` — and if more than one does, the candidate is the one whose
thinnest world composes most (the highest minimum over worlds of raw's composition over its runs);
ties go to the listed order. What follows each outcome is fixed on the same page ("what follows
each outcome"); docs/calibration/queue.sh takes this script's last line.

When no recipe reaches the gates, the shape probe's lead is read by the same rule (docs/
safetyworld.md, "what follows a lead", fixed before the lead's study trained): it trains today's
4M tokens at another shape, and reaching the gates it takes a recipe's place in all that follows.

usage: python3 recipe_choice.py CALIB          reads CALIB/NAME/results.json for every recipe below
                                                (then for the lead, if no recipe reaches); the last
                                                line is `chosen: NAME KNOBS` or `chosen: none`
       python3 recipe_choice.py --list         the recipes, one `DIR KNOBS` a line
       python3 recipe_choice.py --list-leads   the shape leads, one `DIR KNOBS` a line
                                                (queue.sh trains both, each in CALIB/DIR; KNOBS are
                                                whole: the budget too)

It refuses (exit 1, naming what is missing) while any recipe it must read is incomplete: the rule
compares all five, not the ones that happened to finish.
"""
import json
import os
import sys

# Each recipe: its study directory's name and its knobs, whole (listed order: the tie-break).
# Every one trains 2.4M tokens, 60% of today's 4M.
TOKENS = 2_400_000
R60 = f"--train-tokens {TOKENS}"
# The fifth, sequence length (half of today's 256, the same tokens a step), was added on
# 2026-12-06 before it trained, the four others read (docs/safetyworld.md, "a fifth recipe").
RECIPES = [("r60-base", R60), ("r60-decay50", f"{R60} --decay 0.5"), ("r60-lr6", f"{R60} --lr 0.006"),
           ("r60-batch4", f"{R60} --batch-size 4"), ("r60-seq128", f"{R60} --seq-len 128 --batch-size 16")]
# The shape probe's leads (docs/calibration/shape_read.py), in its table's order: today's budget
# (4M tokens) at another shape of the same parameter count.
LEADS = [("shape-h8", "--preset tiny,heads=8")]
WORLDS = [100, 101, 102, 103, 104]
RUNS = [0, 1, 2]
GATE = "raw_benign_composed"


def read(results, name="recipe"):
    """(reaches the gates, {world: [failing gate names]}, {world: raw composition over its runs})."""
    worlds = {w["seed"]: w for w in results.get("worlds", [])}
    if sorted(worlds) != WORLDS:
        raise ValueError(f"{name}: gates read on worlds {sorted(worlds)}, not {WORLDS} — incomplete")
    short = [w for w in WORLDS if worlds[w]["replicates"] != RUNS]
    if short:
        raise ValueError(f"{name}: worlds {short} not read over runs {RUNS} — incomplete")
    failing, composed = {}, {}
    for w in WORLDS:
        gates = worlds[w]["gates"]
        failing[w] = [g["name"] for g in gates if not g.get("pass")]
        values = [g["value"] for g in gates if g["name"] == GATE]
        if len(values) != 1 or values[0] is None:
            raise ValueError(f"{name}: world {w} has no {GATE} reading")
        composed[w] = 100 * values[0]
        # `passed` is the world's verdict as the study wrote it; it must agree with its gates.
        if bool(worlds[w]["passed"]) != (not failing[w]):
            raise ValueError(f"{name}: world {w}'s verdict disagrees with its gates")
    return not any(failing.values()), failing, composed


def choose(read_recipes):
    """The candidate's name, or None: [(name, (reaches, failing, composed))] in listed order."""
    reaching = [(name, min(composed.values())) for name, (reaches, _, composed) in read_recipes if reaches]
    if not reaching:
        return None
    best = max(thinnest for _, thinnest in reaching)
    return next(name for name, thinnest in reaching if thinnest == best)


def study_dir(name):
    """A recipe's study directory is its name; a lead's is its calibration study, NAME-cal (its
    probe's three runs on one world live in NAME)."""
    return f"{name}-cal" if name in dict(LEADS) else name


def read_all(calib, listed, title):
    """Read and print every one of `listed`; exit naming the first incomplete one."""
    read_recipes = []
    for name, _ in listed:
        path = os.path.join(calib, study_dir(name), "results.json")
        try:
            read_recipes.append((name, read(json.load(open(path)), name)))
        except (OSError, ValueError, KeyError) as e:
            raise SystemExit(f"not chosen: {path}: {e}")
    print(f"{title}, gates per calibration world over runs {RUNS} (raw's {GATE} in brackets):")
    for name, (reaches, failing, composed) in read_recipes:
        worlds = ", ".join(f"{w} {'pass' if not failing[w] else 'FAIL ' + '+'.join(failing[w])} "
                           f"({composed[w]:.1f}%)" for w in WORLDS)
        print(f"  {name}: {'reaches the gates' if reaches else 'does not'}; thinnest world "
              f"{min(composed.values()):.1f}%; {worlds}")
    return read_recipes


def main():
    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    if sys.argv[1] in ("--list", "--list-leads"):
        for name, knob in RECIPES if sys.argv[1] == "--list" else LEADS:
            print(f"{study_dir(name)} {knob}".rstrip())
        return
    chosen = choose(read_all(sys.argv[1], RECIPES, f"The recipes at {TOKENS:,} tokens"))
    if not chosen:
        print("No recipe reaches the gates: the shape probe's leads, at today's 4M tokens, by the same rule.")
        chosen = choose(read_all(sys.argv[1], LEADS, "The leads"))
    knob = dict(RECIPES + LEADS).get(chosen, "")
    print(f"chosen: {chosen} {knob}".rstrip() if chosen else "chosen: none")


if __name__ == "__main__":
    main()
