"""The recipe study's rule (docs/safetyworld.md, "a recipe at 60% of the compute", fixed before any
of its models trained): a recipe reaches the gates if every calibration world passes every gate
over its three runs — the per-world reading `rsr gym check --study DIR` prints, which the study
writes to its results.json as `worlds` — and if more than one does, the candidate is the one whose
thinnest world composes most (the highest minimum over worlds of raw's composition over its runs);
ties go to the listed order. What follows each outcome is fixed on the same page ("what follows
each outcome"); docs/calibration/queue.sh takes this script's last line.

usage: python3 recipe_choice.py CALIB     reads CALIB/NAME/results.json for every recipe below;
                                           the last line is `chosen: NAME KNOBS` or `chosen: none`
       python3 recipe_choice.py --list    the recipes, one `NAME KNOBS` a line (queue.sh trains them)

It refuses (exit 1, naming what is missing) while any recipe is incomplete: the rule compares all
four, not the ones that happened to finish.
"""
import json
import os
import sys

# Each recipe: its study directory's name and the knob it changes beside --train-tokens (listed
# order: the tie-break). Every one trains 2.4M tokens, 60% of today's 4M.
RECIPES = [("r60-base", ""), ("r60-decay50", "--decay 0.5"), ("r60-lr6", "--lr 0.006"),
           ("r60-batch4", "--batch-size 4")]
TOKENS = 2_400_000
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


def main():
    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    if sys.argv[1] == "--list":
        for name, knob in RECIPES:
            print(f"{name} {knob}".rstrip())
        return
    read_recipes = []
    for name, _ in RECIPES:
        path = os.path.join(sys.argv[1], name, "results.json")
        try:
            read_recipes.append((name, read(json.load(open(path)), name)))
        except (OSError, ValueError, KeyError) as e:
            raise SystemExit(f"not chosen: {path}: {e}")
    print(f"The recipes at {TOKENS:,} tokens, gates per calibration world over runs {RUNS} "
          f"(raw's {GATE} in brackets):")
    for name, (reaches, failing, composed) in read_recipes:
        worlds = ", ".join(f"{w} {'pass' if not failing[w] else 'FAIL ' + '+'.join(failing[w])} "
                           f"({composed[w]:.1f}%)" for w in WORLDS)
        print(f"  {name}: {'reaches the gates' if reaches else 'does not'}; thinnest world "
              f"{min(composed.values()):.1f}%; {worlds}")
    chosen = choose(read_recipes)
    knob = dict(RECIPES).get(chosen, "")
    print(f"chosen: {chosen} {knob}".rstrip() if chosen else "chosen: none")


if __name__ == "__main__":
    main()
