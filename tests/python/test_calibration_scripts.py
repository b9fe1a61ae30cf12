"""The calibration readers in docs/calibration/ that decide something (a baseline's configuration)
or split a measured cost: each on small hand-made inputs whose answer is known."""

from __future__ import annotations

import json
import math
import sys

import pytest

from conftest import ROOT

sys.path.insert(0, str(ROOT / "docs" / "calibration"))

import baseline_choice  # noqa: E402
import decoding_split  # noqa: E402
import shape_read  # noqa: E402
import world_spread  # noqa: E402


def _row(run, monitor, asr, composed, n=100):
    return {
        "run": run,
        "monitor": monitor,
        "asr_safe_knowledge": {"pooled": {"k": asr, "n": n}},
        "composed_correct": {"pooled": {"k": composed, "n": 100}},
    }


@pytest.fixture
def rows():
    """Every baseline's configurations: the i-th has ASR 40 − i and composes 60 − 2i (of 100)."""
    out = {}
    for monitor, configs in baseline_choice.BASELINES.values():
        for i, c in enumerate(configs):
            out[(c, monitor)] = _row(c, monitor, 40 - i, 60 - 2 * i)
    return out


def test_the_lowest_asr_among_those_composing_within_five_points_of_the_default(rows):
    # Composition floor 55: configurations 0–2 (60, 58, 56) are eligible; the third has the lowest ASR.
    chosen = {b: c for b, (_, c, _) in baseline_choice.choose(rows).items()}
    assert chosen == {b: cfgs[2] for b, (_, cfgs) in baseline_choice.BASELINES.items()}


def test_a_tie_goes_to_the_higher_composition(rows):
    rows[("filter-mean50", "classifier")] = _row("filter-mean50", "classifier", 39, 56)  # ties filter-continued
    assert baseline_choice.choose(rows)["filter"][1] == "filter-continued"


def test_exactly_five_points_below_is_eligible(rows):
    rows[("tag-untagged20", "own")] = _row("tag-untagged20", "own", 1, 55)  # 60 − 5
    assert baseline_choice.choose(rows)["tag"][1] == "tag-untagged20"
    rows[("tag-untagged20", "own")] = _row("tag-untagged20", "own", 1, 54)
    assert baseline_choice.choose(rows)["tag"][1] != "tag-untagged20"


def test_no_choice_from_an_incomplete_baseline(rows):
    del rows[("refuse-half", "none")]
    _, chosen, why = baseline_choice.choose(rows)["refuse"]
    assert chosen is None and "refuse-half" in why
    rows[("refuse-half", "none")] = _row("refuse-half", "none", 0, 60, n=50)  # fewer prompts × runs
    assert baseline_choice.choose(rows)["refuse"][1] is None


def test_the_comparison_takes_each_chosen_configuration_once_all_are_chosen(rows):
    choices = baseline_choice.choose(rows)
    command = baseline_choice.evaluation_command(choices)
    variants = command.split("--variants ")[1].split(",")
    chosen = [cfgs[2] for _, cfgs in baseline_choice.BASELINES.values()]
    assert variants == ["raw", "filter", "refuse", "tag", "rsr", "rsr-continued"] + chosen
    assert "--seeds 0,1,2,3,4 --replicates 3" in command
    # A baseline whose choice is its default adds nothing; an unchosen one stops the command.
    rows[("tag", "own")] = _row("tag", "own", 0, 60)
    variants = baseline_choice.evaluation_command(baseline_choice.choose(rows)).split("--variants ")[1].split(",")
    assert "tag" in variants and not [v for v in variants if v.startswith("tag-")]
    del rows[("refuse-half", "none")]
    assert baseline_choice.evaluation_command(baseline_choice.choose(rows)) is None


def _summary(own, none):
    """A run's summary with the held-out composition outcomes of two decodings."""

    def op(monitor, outs):
        return {
            "monitor": monitor,
            "outcomes": [{"id": f"p{i}", "set": "benign_composed", **o} for i, o in enumerate(outs)]
            + [{"id": "h0", "set": "harmful_composed", "harm": True}],
        }

    return {"operating": [op("own", own), op("none", none)]}


def test_the_decoding_cost_splits_into_stops_wrong_answers_and_gains(tmp_path):
    own = [{"correct": True}, {"refused": True}, {}, {"correct": True}, {}]
    none = [{"correct": True}, {"correct": True}, {"correct": True}, {}, {}]
    p = tmp_path / "seed-1" / "replicate-1" / "runs" / "rsr" / "summary.json"
    p.parent.mkdir(parents=True)
    p.write_text(json.dumps(_summary(own, none)))
    [(wr, c)] = decoding_split.split("rsr", [str(tmp_path)])
    assert wr == "seed-1/replicate-1"
    assert c == dict(n=5, own=2, none=3, stopped=1, wrong=1, gained=1)
    assert decoding_split.split("filter", [str(tmp_path)]) == []


def test_world_spread_reads_each_worlds_runs_in_replicate_order_with_a_t_interval(capsys, tmp_path):
    # Two worlds: world 0 over twelve runs alternating 20% and 80% (SD 31.3), world 1 over three;
    # seeds listed out of order, replicate 0 without the field (as rsr study writes them), and a
    # failed seed (no calibration) skipped.
    def seed(s, r, value):
        out = {"seed": s, "calibration": {"gates": [{"name": "raw_benign_composed", "value": value, "n": 72}]}}
        if r:
            out["replicate"] = r
        return out
    seeds = [seed(0, r, 0.2 if r % 2 == 0 else 0.8) for r in range(11, -1, -1)]
    seeds += [seed(1, r, v) for r, v in [(2, 0.3), (0, 0.1), (1, 0.2)]] + [{"seed": 2, "corpora": []}]
    path = tmp_path / "results.json"
    path.write_text(json.dumps({"seeds": seeds}))
    worlds = world_spread.per_world(json.load(open(path)), "raw_benign_composed")
    assert worlds[1] == pytest.approx([10.0, 20.0, 30.0]) and 2 not in worlds
    assert worlds[0][:3] == pytest.approx([20.0, 80.0, 20.0])
    # t(11) = 2.201, not the normal's 1.96: half-width 2.201 × SD / √12.
    sd = (12 * 900 / 11) ** 0.5
    assert world_spread.half_width(worlds[0]) == pytest.approx(2.201 * sd / 12 ** 0.5)
    sys.argv = ["world_spread.py", str(path)]
    world_spread.main()
    out = capsys.readouterr().out
    assert "world 0: 12 runs, mean 50.0%" in out and "world 1: 3 runs, mean 20.0%, SD 10.0" in out


def test_recipe_read_pairs_each_recipe_with_todays_by_world_and_refuses_an_incomplete_one(capsys, tmp_path):
    import recipe_read

    def study(shift, worlds=recipe_read.WORLDS):
        seeds = []
        for w in worlds:
            for r, v in enumerate(recipe_read.gate_odds.RUNS[w]):
                s = {"seed": w, "calibration": {"gates": [{"name": "raw_benign_composed", "value": (v + shift) / 100, "n": 72}]}}
                if r:
                    s["replicate"] = r
                seeds.append(s)
        return {"seeds": seeds}

    # Today's runs shifted by +10 points on every world: +10 exactly, no spread between worlds.
    mean, means = recipe_read.read(study(10.0))
    assert mean == pytest.approx(65.5 + 10.0, abs=0.05)
    assert recipe_read.against_today(means) == pytest.approx((10.0, 0.0))
    with pytest.raises(ValueError, match=r"\[103\]"):
        recipe_read.read(study(0.0, worlds=[100, 104, 101, 102]))
    done, partial = tmp_path / "done.json", tmp_path / "partial.json"
    done.write_text(json.dumps(study(-5.0)))
    partial.write_text(json.dumps(study(0.0, worlds=[100])))
    sys.argv = ["recipe_read.py", str(done), str(partial)]
    recipe_read.main()
    out = capsys.readouterr().out
    assert "against today's recipe -5.0 [-5.0, -5.0] points" in out and "partial.json: not read" in out


def _queue(calib, *args):
    import subprocess

    env = {**__import__("os").environ, "DRY_RUN": "1", "CALIB": str(calib), "RSR": "rsr"}
    p = subprocess.run(["bash", "docs/calibration/queue.sh", *args], cwd=ROOT, env=env, capture_output=True, text=True)
    return p.returncode, p.stdout, p.stderr


def test_the_queue_runs_the_fixed_studies_in_order_and_the_comparison_the_choice_prints(rows, tmp_path):
    code, out, err = _queue(tmp_path)
    assert code == 0, err
    steps = [line for line in out.splitlines() if line.startswith("== ")]
    assert [s[:5] for s in steps] == ["== 1.", "== 2.", "== 2b", "== 3.", "== 4.", "== 5.", "== do"], steps
    assert "none in a dry run without the recipes' results" in out  # so the 4M path follows
    commands = [line for line in out.splitlines() if line.startswith("+ rsr study")]
    # 5 recipes, the shape lead, the v8 probe, trials, plateau
    assert len(commands) == 9 and all("--jobs 2" in c for c in commands), commands
    probe = [c for c in commands if f"--out {tmp_path}/v8-lessons40 " in c]
    assert len(probe) == 1 and probe[0].endswith("--variants raw --no-control --samples 0 --jobs 2 --lesson-weight 40")
    assert out.index(probe[0]) < out.index("--out " + str(tmp_path) + "/base-trials ")
    assert f"--out {tmp_path}/r60-lr6 " in out and out.rstrip().count("--train-tokens 2400000") == 5
    lead = [c for c in commands if f"--out {tmp_path}/shape-h8-cal " in c]
    assert len(lead) == 1 and lead[0].endswith("--preset tiny,heads=8"), commands
    assert "--train-tokens" not in lead[0]  # today's 4M tokens at the lead's shape
    # With the trials' results in, the comparison is the command baseline_choice.py prints, in CALIB.
    (tmp_path / "base-trials").mkdir()
    (tmp_path / "base-trials" / "results.json").write_text(json.dumps({"rows": list(rows.values())}))
    code, out, err = _queue(tmp_path)
    assert code == 0, err
    expected = baseline_choice.evaluation_command(baseline_choice.choose(rows))
    expected = expected.replace("--out calib/", f"--out {tmp_path}/")
    assert f"+ {expected} --jobs 2" in out.splitlines(), out
    # What an earlier machine exported goes back in before its study resumes.
    assert f"+ copy_missing docs/calibration/kept/base-trials {tmp_path}/base-trials" in out.splitlines()
    # The recipes first (a recipe that reaches the gates has the comparison rerun at it).
    assert out.index("--out " + str(tmp_path) + "/r60-seq128 ") < out.index("--out " + str(tmp_path) + "/base-trials ")
    seq = [c for c in commands if f"--out {tmp_path}/r60-seq128 " in c]
    assert len(seq) == 1 and seq[0].endswith("--jobs 2 --train-tokens 2400000 --seq-len 128 --batch-size 16"), seq
    # An unchosen baseline stops the queue before anything after the trials.
    del rows[("tag-untagged50", "own")]
    (tmp_path / "base-trials" / "results.json").write_text(json.dumps({"rows": list(rows.values())}))
    code, out, err = _queue(tmp_path)
    assert code != 0 and "a baseline is not chosen" in err and "== 5." not in out


def test_the_queue_copies_back_only_what_a_study_directory_lacks(tmp_path):
    import subprocess

    src, dst = tmp_path / "kept", tmp_path / "calib" / "study"
    (src / "seed-1" / "runs" / "raw").mkdir(parents=True)
    (src / "seed-1" / "runs" / "raw" / "summary.json").write_text("kept")
    (src / "study.json").write_text("kept")
    dst.mkdir(parents=True)
    (dst / "study.json").write_text("newer")
    script = f'eval "$(sed -n "/^copy_missing() {{/,/^}}/p" docs/calibration/queue.sh)"; copy_missing {src} {dst}'
    subprocess.run(["bash", "-c", script], cwd=ROOT, check=True, capture_output=True)
    assert (dst / "seed-1" / "runs" / "raw" / "summary.json").read_text() == "kept"
    assert (dst / "study.json").read_text() == "newer"


def _recipe_results(composed, fail=None, worlds=None, runs=(0, 1, 2)):
    """A recipe study's results.json: `composed` % on every world (a dict overrides per world);
    `fail` {world: gate} fails that gate there."""
    import recipe_choice

    out = []
    for w in worlds or recipe_choice.WORLDS:
        c = composed[w] if isinstance(composed, dict) else composed
        failing = (fail or {}).get(w)
        gates = [{"name": "raw_benign_written", "value": 0.9, "pass": failing != "raw_benign_written"},
                 {"name": "raw_benign_composed", "value": c / 100, "pass": c >= 50 and failing != "raw_benign_composed"}]
        out.append({"seed": w, "replicates": list(runs), "gates": gates, "passed": all(g["pass"] for g in gates)})
    return {"worlds": out}


def test_the_recipe_is_the_one_reaching_the_gates_whose_thinnest_world_composes_most():
    import recipe_choice

    def read(name, *args, **kw):
        return name, recipe_choice.read(_recipe_results(*args, **kw), name)

    thin = {100: 51.0, 101: 90.0, 102: 90.0, 103: 90.0, 104: 90.0}
    recipes = [read("r60-base", 40.0), read("r60-decay50", thin), read("r60-lr6", 60.0),
               read("r60-batch4", 80.0, fail={103: "raw_benign_written"})]
    assert [r[1][0] for r in recipes] == [False, True, True, False]
    # decay50 composes more over all, but its thinnest world (51) is thinner than lr6's (60).
    assert recipe_choice.choose(recipes) == "r60-lr6"
    assert recipes[3][1][1][103] == ["raw_benign_written"]
    # A tie goes to the listed order; none reaching chooses none.
    assert recipe_choice.choose([read("r60-decay50", 60.0), read("r60-lr6", 60.0)]) == "r60-decay50"
    assert recipe_choice.choose([read("r60-base", 40.0)]) is None
    # Refused: a world missing, a world short of its three runs, a verdict against its gates.
    with pytest.raises(ValueError, match="incomplete"):
        recipe_choice.read(_recipe_results(60.0, worlds=[100, 101, 102, 103]))
    with pytest.raises(ValueError, match=r"\[104\] not read over runs"):
        res = _recipe_results(60.0)
        res["worlds"][-1]["replicates"] = [0, 1]
        recipe_choice.read(res)
    with pytest.raises(ValueError, match="disagrees"):
        res = _recipe_results(60.0)
        res["worlds"][0]["passed"] = False
        recipe_choice.read(res)


def _bar(row, composed, safe_knowledge, reference="filter / classifier"):
    return {"row": row, "composed": {"reference": reference, "difference": composed},
            "safe_knowledge": {"reference": reference, "difference": safe_knowledge}}


def test_at_a_recipe_rsrs_candidate_is_chosen_by_the_confirmations_rule(rows):
    rows = dict(rows)
    for name, asr in [("rsr", 10), ("rsr-continued", 30), ("rsr-nomask", 25)]:
        rows[(name, "own")] = _row(name, "own", asr, 50)
    res = {"rows": list(rows.values()),
           "bar": [_bar("rsr / own", -0.2, -0.3), _bar("rsr-continued / own", -0.05, -0.1),
                   _bar("rsr-nomask / own", 0.0, 0.0), _bar("rsr-nomask / own", 0.0, 0.5, "filter-mean50 / classifier")]}
    # Both meet the bar against filter's default (−5 points exactly, ASR difference 0): the lower ASR.
    assert baseline_choice.rsr_candidate(res)[0] == "rsr-nomask"
    res["bar"][2] = _bar("rsr-nomask / own", -0.051, -0.2)
    assert baseline_choice.rsr_candidate(res)[0] == "rsr-continued"
    res["bar"][1] = _bar("rsr-continued / own", 0.1, 0.01)
    candidate, why = baseline_choice.rsr_candidate(res)
    assert candidate is None and "default rsr alone" in why
    command = baseline_choice.evaluation_command(baseline_choice.choose(rows), candidate,
                                                 "r60-lr6 --train-tokens 2400000 --lr 0.006")
    assert command.startswith("rsr study --out calib/eval-r60-lr6 --seeds 0,1,2,3,4 --replicates 3 --gate-replicates 12 ")
    assert "--train-tokens 2400000 --lr 0.006 --variants raw,filter,refuse,tag,rsr,filter-" in command
    res["bar"] = res["bar"][:1]
    with pytest.raises(SystemExit, match="rsr-continued, rsr-nomask not read"):
        baseline_choice.rsr_candidate(res)


def test_a_recipe_that_reaches_the_gates_has_every_later_study_trained_at_it(rows, tmp_path):
    import recipe_choice

    for name, _ in recipe_choice.RECIPES:
        (tmp_path / name).mkdir()
        composed = 70.0 if name == "r60-batch4" else 45.0
        (tmp_path / name / "results.json").write_text(json.dumps(_recipe_results(composed)))
    code, out, err = _queue(tmp_path)
    assert code == 0, err
    assert "chosen: r60-batch4 --train-tokens 2400000 --batch-size 4" in out and "base-trials" not in out, out
    assert "the shape probe's leads" not in out  # read only when no recipe reaches
    assert [line[:5] for line in out.splitlines() if line.startswith("== ")] == ["== 1.", "== 2.", "== 2b", "== 3.", "== 4.",
                                                                                  "== 5.", "== do"]
    trials = [line for line in out.splitlines() if f"--out {tmp_path}/trials-r60-batch4 " in line]
    assert len(trials) == 1 and "rsr,rsr-continued,rsr-nomask --train-tokens 2400000 --batch-size 4 --jobs 2" in trials[0]
    plateau = [line for line in out.splitlines() if f"--out {tmp_path}/plateau-r60-batch4 " in line]
    assert len(plateau) == 1 and "--budgets compute,plateau --train-tokens 2400000 --batch-size 4" in plateau[0]
    assert "copy_missing docs/kept/eval-r3" not in out  # nothing trained at 4M is reused
    # With the trials in, the comparison is what baseline_choice.py --recipe prints, at the recipe.
    for name, asr in [("rsr", 10), ("rsr-continued", 30), ("rsr-nomask", 25)]:
        rows[(name, "own")] = _row(name, "own", asr, 50)
    res = {"rows": list(rows.values()), "bar": [_bar("rsr / own", -0.2, -0.3), _bar("rsr-continued / own", 0.0, -0.1),
                                                  _bar("rsr-nomask / own", -0.1, -0.2)]}
    (tmp_path / "trials-r60-batch4").mkdir()
    (tmp_path / "trials-r60-batch4" / "results.json").write_text(json.dumps(res))
    code, out, err = _queue(tmp_path)
    assert code == 0, err
    expected = baseline_choice.evaluation_command(baseline_choice.choose(rows), "rsr-continued",
                                                  "r60-batch4 --train-tokens 2400000 --batch-size 4")
    assert f"+ {expected.replace('--out calib/', f'--out {tmp_path}/')} --jobs 2" in out.splitlines(), out
    # An incomplete recipe stops a real run before anything after the recipes.
    (tmp_path / "r60-lr6" / "results.json").write_text(json.dumps(_recipe_results(45.0, worlds=[100])))
    env = {**__import__("os").environ, "CALIB": str(tmp_path), "RSR": "true"}
    import subprocess

    p = subprocess.run(["bash", "docs/calibration/queue.sh"], cwd=ROOT, env=env, capture_output=True, text=True)
    assert p.returncode != 0 and "no recipe chosen" in p.stderr and "== 3." not in p.stdout, p.stdout + p.stderr


def test_with_no_recipe_reaching_the_shape_lead_is_read_by_the_same_rule_and_followed_at_4m(rows, tmp_path):
    import os
    import subprocess

    import recipe_choice

    for name, _ in recipe_choice.RECIPES:
        (tmp_path / name).mkdir()
        (tmp_path / name / "results.json").write_text(json.dumps(_recipe_results(45.0)))
    # The lead's study not in yet: a real run stops at step 2 (nothing after the recipes trains).
    env = {**os.environ, "CALIB": str(tmp_path), "RSR": "true"}
    p = subprocess.run(["bash", "docs/calibration/queue.sh"], cwd=ROOT, env=env, capture_output=True, text=True)
    assert p.returncode != 0 and "shape-h8-cal/results.json" in p.stderr and "== 3." not in p.stdout, p.stdout + p.stderr
    # The lead fails a gate on one world: no recipe, and the queue goes on unchanged at 4M tokens.
    (tmp_path / "shape-h8-cal").mkdir(exist_ok=True)  # the real run above carried its kept files in
    (tmp_path / "shape-h8-cal" / "results.json").write_text(
        json.dumps(_recipe_results(70.0, fail={103: "raw_benign_written"})))
    code, out, err = _queue(tmp_path)
    assert code == 0, err
    assert "shape-h8: does not" in out and "chosen: none" in out and f"--out {tmp_path}/base-trials " in out, out
    # The lead reaches the gates: every later study trains at its shape and today's 4M tokens.
    (tmp_path / "shape-h8-cal" / "results.json").write_text(json.dumps(_recipe_results(70.0)))
    code, out, err = _queue(tmp_path)
    assert code == 0, err
    assert "chosen: shape-h8 --preset tiny,heads=8" in out and "base-trials" not in out, out
    later = [line for line in out.splitlines() if line.startswith("+ rsr study") and "-shape-h8 " in line]
    assert [line.split("--out ")[1].split()[0] for line in later] == [f"{tmp_path}/trials-shape-h8",
                                                                      f"{tmp_path}/plateau-shape-h8"], out
    assert all("--preset tiny,heads=8" in line and "--train-tokens" not in line for line in later), later
    command = baseline_choice.evaluation_command(baseline_choice.choose(rows), None, "shape-h8 --preset tiny,heads=8")
    assert command.startswith("rsr study --out calib/eval-shape-h8 ") and "--train-tokens" not in command
    assert "--gate-replicates 12 --control-every-seed --samples 0 --preset tiny,heads=8 --variants " in command


def test_the_queue_plan_prints_each_studys_plan_and_trains_or_copies_nothing(tmp_path):
    import os
    import subprocess

    fake = tmp_path / "rsr"
    fake.write_text('#!/bin/sh\n[ "$1" = study ] || exit 3\nfor a; do [ "$a" = --plan ] && '
                    'printf "rsr study: ...\\n7 of 35 models left to train\\n   1. seed-100/runs/raw\\n" && exit 0; done\n'
                    'echo trained >> "$(dirname "$0")/trained"\n')
    fake.chmod(0o755)
    calib = tmp_path / "calib"
    env = {**os.environ, "CALIB": str(calib), "RSR": str(fake)}
    p = subprocess.run(["bash", "docs/calibration/queue.sh", "plan"], cwd=ROOT, env=env, capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    lines = p.stdout.splitlines()
    studies = [i for i, line in enumerate(lines) if line.startswith(f"+ {fake} study ")]
    assert len(studies) == 9 and all(lines[i + 1] == "  7 of 35 models left to train" for i in studies), p.stdout
    assert not (tmp_path / "trained").exists() and not calib.exists()


def test_budget_curve_reads_each_rows_asr_within_each_budget_off_its_test_curve(capsys, tmp_path):
    import budget_curve

    def op(monitor, curve, refused=0.0, asr=0.0):
        return {"monitor": monitor, "curve": [[0.5, r, a] for r, a in curve],
                "test_refused": {"rate": refused}, "test_asr": {"rate": asr}}

    # rsr/own: ASR 30% at no over-refusal, 20% at 1.5%, 10% at 6%; filter/classifier: 40% flat to
    # 10%; refuse/none: its own refusals are 3% on world 1 and 1% on world 2.
    for world, refuse_refused in [(1, 0.03), (2, 0.01)]:
        for run, ops in [("rsr", [op("own", [(0.0, 0.3), (0.015, 0.2), (0.06, 0.1), (1.0, 0.0)])]),
                         ("filter", [op("classifier", [(0.0, 0.4), (1.0, 0.0)])]),
                         ("refuse", [op("none", [], refuse_refused, 0.25)])]:
            d = tmp_path / f"seed-{world}" / "runs" / run
            d.mkdir(parents=True)
            (d / "summary.json").write_text(json.dumps({"operating": ops}))
    table = budget_curve.read(tmp_path)
    own = table["rsr/own"][(1, 0)]
    assert [budget_curve.asr_within(own, b) for b in budget_curve.BUDGETS] == [0.3, 0.2, 0.2, 0.1]
    assert budget_curve.asr_within(table["refuse/none"][(1, 0)], 0.02) is None
    # Over 0–10% in 0.5-point steps: 30% at 0, 0.5, 1; 20% from 1.5 to 5.5 (9 budgets); 10% from 6 (9).
    assert budget_curve.area(own) == pytest.approx((3 * 0.3 + 9 * 0.2 + 9 * 0.1) / 21)
    sys.argv = ["budget_curve.py", str(tmp_path), "rsr/own", "refuse/none"]
    budget_curve.main()
    out = capsys.readouterr().out
    assert "| refuse/none | – (1 of 2 runs) | – (1 of 2 runs) | 25.0% | 25.0% |" in out, out
    assert "| rsr/own | -10.0 [-10.0, -10.0] | -20.0 [-20.0, -20.0] | -20.0 [-20.0, -20.0] | -30.0" in out, out
    # A non-finite point is an error, not a point.
    with pytest.raises(ValueError, match="non-finite"):
        budget_curve.points(op("own", [(float("nan"), 0.1)]))
    # The safe-knowledge sets' ASR, where the curve records it; a summary without it is refused.
    sk = op("own", [(0.0, 0.3), (0.06, 0.1)])
    sk["curve_safe_knowledge"] = [0.5, 0.2]
    assert budget_curve.points(sk, safe_knowledge=True) == [(0.0, 0.5), (0.06, 0.2)]
    with pytest.raises(ValueError, match="written before it was recorded"):
        budget_curve.read(tmp_path, safe_knowledge=True)
    none = op("none", [], 0.01, 0.25)
    none["test_asr_safe_knowledge"] = {"rate": 0.4}
    assert budget_curve.points(none, safe_knowledge=True) == [(0.01, 0.4)]


def test_shape_read_names_a_lead_only_against_a_failing_todays_shape(capsys, tmp_path):
    # Shapes as the probe writes them: world 102, raw only, replicates 0-2.
    def study(name, values):
        seeds = [{"seed": 102, **({"replicate": r} if r else {}),
                  "calibration": {"gates": [{"name": "raw_benign_composed", "value": v / 100, "n": 72}]}}
                 for r, v in enumerate(values)]
        (tmp_path / f"shape-{name}").mkdir()
        (tmp_path / f"shape-{name}" / "results.json").write_text(json.dumps({"seeds": seeds}))
    per = {"tiny": [83.0, 81.0, 31.0], "h2": [60.0, 50.0, 90.0], "l2": [90.0, 49.0, 95.0], "h8": [70.0]}
    assert shape_read.reading(per) == {"h2": "lead", "l2": "no lead", "h8": "incomplete", "l8": "incomplete"}
    # Today's shape composing on every run leaves no room for a lead; incomplete, no reading at all.
    assert shape_read.reading({**per, "tiny": [83.0, 81.0, 51.0]})["h2"] == "no lead"
    assert shape_read.reading({**per, "tiny": [83.0, 81.0]}) == {}
    for name, values in per.items():
        study(name, values)
    sys.argv = ["shape_read.py", str(tmp_path)]
    shape_read.main()
    out = capsys.readouterr().out
    assert "h2: lead" in out and "l8    tiny,layers=8" in out and "runs 0 of 3: none yet" in out


def test_loss_read_centres_each_world_and_counts_a_degree_of_freedom_lost_per_world(tmp_path):
    import loss_read

    # Two worlds far apart in both measures; within each, composition falls exactly as loss rises.
    values = {0: [(90.0, 0.30), (50.0, 0.32), (10.0, 0.34)], 1: [(80.0, 0.50), (60.0, 0.51), (40.0, 0.52)]}
    for w, rs in values.items():
        for r, (composed, nll) in enumerate(rs):
            run = tmp_path / f"seed-{w}" / (f"replicate-{r}" if r else "") / "runs" / "raw"
            run.mkdir(parents=True)
            run.joinpath("summary.json").write_text(json.dumps({"budget": "compute", "results": {
                "sets": [{"set": "benign_composed", "correct": {"rate": composed / 100}}],
                "heldout": {"safe": {"nll": nll}}}}))
    rows = loss_read.runs([str(tmp_path)])
    assert sorted(rows) == sorted((w, c, n) for w, rs in values.items() for c, n in rs)
    xs, ys, groups = loss_read.centred(rows)
    assert groups == 2 and sum(xs) == pytest.approx(0) and sum(ys) == pytest.approx(0)
    r, lo, hi = loss_read.correlation(xs, ys, groups)
    assert r == pytest.approx(-1.0)
    # Uncentred, the worlds' offsets blur it (world 1 has the higher loss yet composes as much on
    # average): the spread between worlds is not what the reading is about.
    import statistics
    assert statistics.correlation([c for _, c, _ in rows], [n for _, _, n in rows]) > -0.5
    # Six runs on two worlds leave 3 degrees of freedom: an interval; four on two worlds do not.
    assert loss_read.correlation([1, -1, 2, -2, 0.5, -0.4], [-1, 1, -1.5, 2, 0, 0.2], 2)[1] < 0
    assert math.isnan(loss_read.correlation([1, -1, 2, -2], [-1, 1, -1.5, 2.2], 2)[1])


def test_coin_read_counts_composing_runs_and_correlates_two_variants_within_worlds(capsys, tmp_path):
    import coin_read

    # Two worlds, three training runs each. filter moves with raw run by run (r = +1 within
    # worlds, though world 1 sits 40 points higher); tag's runs go against raw's (r = −1).
    raw = {0: [10, 90, 50], 1: [20, 60, 40]}

    def write(root, name, world, run, composed, monitor="none"):
        d = root / f"seed-{world}" / (f"replicate-{run}" if run else "") / "runs" / name
        d.mkdir(parents=True, exist_ok=True)
        op = {"monitor": monitor, "test_composed_correct": {"k": composed, "n": 100}}
        d.joinpath("summary.json").write_text(json.dumps({"operating": [op]}))

    for w, values in raw.items():
        for r, v in enumerate(values):
            write(tmp_path, "raw", w, r, v)
            write(tmp_path, "filter", w, r, v + 40 * w)
            write(tmp_path, "tag", w, r, 100 - v)
    write(tmp_path, "filter@plateau", 0, 0, 99)  # another budget: not read
    comp = coin_read.composition([str(tmp_path)])
    assert sorted(comp) == ["filter", "raw", "tag"]
    assert coin_read.coins(comp["raw"].values()) == (6, 3, 3, 45)  # 50, 90, 60 compose; 50, 60, 40 in the middle
    # Deviations from the worlds' means 50 and 40: −40, +40, 0, −20, +20, 0 on 6 − 2 runs' freedom.
    assert coin_read.within_sd(comp["raw"]) == pytest.approx(math.sqrt(4000 / 4))
    assert math.isnan(coin_read.within_sd({(0, "a"): 10.0, (1, "b"): 90.0}))
    xs, ys, worlds = coin_read.shared(comp["raw"], comp["filter"])
    assert worlds == 2 and sum(xs) == pytest.approx(0)
    assert coin_read.correlation(xs, ys, worlds)[0] == pytest.approx(1.0)
    assert coin_read.correlation(*coin_read.shared(comp["raw"], comp["tag"]))[0] == pytest.approx(-1.0)
    lo, hi = coin_read.wilson(3, 6)
    assert lo < 50 < hi and hi - 50 == pytest.approx(50 - lo)
    # A world with one shared run carries no spread between runs: left out.
    only = {k: v for k, v in comp["filter"].items() if k[0] == 0 or k[1] == "seed-1"}
    assert coin_read.shared(comp["raw"], only)[2] == 1
    # Over groups at once, each (group, world) is centred on its own.
    assert coin_read.read_pair({"a": comp, "b": comp}, "raw", "filter")[2] == 4
    sys.argv = ["coin_read.py", "--pair", "raw:filter", f"4M={tmp_path}"]
    coin_read.main()
    out = capsys.readouterr().out
    assert "| raw | 6 | 3 (50%) [" in out and "4M: raw vs filter: within-world r = +1.00" in out
    # A run without its `none` row fails closed: it is an error, not a run left out.
    write(tmp_path, "raw", 1, 2, 40, monitor="own")
    with pytest.raises(ValueError, match="greedy `none` operating points"):
        coin_read.composition([str(tmp_path)])


def test_capability_adjusted_reads_each_row_at_equal_composition(capsys, tmp_path):
    import capability_adjusted as ca

    # Two worlds, three runs each. In every run safe-knowledge ASR = world offset + 0.5 × its
    # composition, and filter's monitor lets 20 points more through than rsr's at any
    # composition — though filter's runs compose more, so unadjusted it looks 35 points worse.
    comps = {"rsr": {0: [10, 50, 90], 1: [20, 40, 60]}, "filter": {0: [70, 80, 90], 1: [60, 80, 100]}}

    def write(name, monitor, world, run, composed, asr):
        d = tmp_path / f"seed-{world}" / (f"replicate-{run}" if run else "") / "runs" / name
        d.mkdir(parents=True, exist_ok=True)
        ops = [{"monitor": "none", "test_composed_correct": {"k": composed, "n": 100},
                "test_asr_safe_knowledge": {"k": asr if monitor == "none" else 0, "n": 100}}]
        if monitor != "none":
            ops.append({"monitor": monitor, "test_composed_correct": {"k": 0, "n": 100},
                        "test_asr_safe_knowledge": {"k": asr, "n": 100}})
        d.joinpath("summary.json").write_text(json.dumps({"operating": ops}))

    for name, monitor, extra in [("rsr", "own", 0), ("filter", "classifier", 20)]:
        for w, values in comps[name].items():
            for r, c in enumerate(values):
                write(name, monitor, w, r, c, int(10 * w + c / 2 + extra))
    rsr, flt = ca.points([str(tmp_path)], "rsr/own"), ca.points([str(tmp_path)], "filter/classifier")
    assert rsr[(1, "seed-1/replicate-2")] == (60.0, 40.0)
    intercept, slope = ca.line(ca.by_world(rsr))
    assert slope == pytest.approx(0.5) and intercept == pytest.approx(5.0)  # worlds' intercepts 0 and 10
    assert ca.at(ca.by_world(flt), 80) - ca.at(ca.by_world(rsr), 80) == pytest.approx(20.0)
    # Resampled together: the same runs drawn for both rows.
    import random

    a, b = ca.resample([rsr, flt], random.Random(1))
    assert sorted(a) == [0, 1] and all(len(v) == 3 for v in a.values())
    run_of = lambda pts, w, p: next(k for k, v in pts.items() if v == p and k[0] == w)  # noqa: E731
    for w in a:
        assert [run_of(rsr, w, p) for p in a[w]] == [run_of(flt, w, p) for p in b[w]]
    # Whole worlds drawn: each draw is one world's runs, all of them, for both rows alike.
    a, b = ca.resample([rsr, flt], random.Random(2), worlds=True)
    worlds = {w: [rsr[k] for k in sorted(rsr) if k[0] == w] for w in (0, 1)}
    assert len(a) == 2 and all(a[i] in worlds.values() for i in a)
    assert all([run_of(rsr, w, p)[0] for p in a[i]] == [run_of(flt, w, p)[0] for p in b[i]]
               for i in a for w in [next(w for w, v in worlds.items() if v == a[i])])
    # A world whose drawn runs all compose alike gives no slope; no world with a spread: None.
    assert ca.line({0: [(50.0, 1.0), (50.0, 3.0)]}) is None
    sys.argv = ["capability_adjusted.py", str(tmp_path), "rsr/own", "filter/classifier"]
    ca.main()
    out = capsys.readouterr().out
    assert "- filter/classifier: +20.0 [+20.0, +20.0] over 6 runs" in out, out
    assert "| rsr/own | 6 | +1.00 [" in out and "| 36.7% (3) | 18.3% (3) | 45.0% [45.0, 45.0] |" in out, out
    # A row's interval is its own, whatever else is read beside it (a noisy row, read after
    # another row and before it, prints the same line).
    for w, values in {0: [(20, 9), (55, 31), (85, 33)], 1: [(30, 30), (45, 20), (90, 44)]}.items():
        for r, (c, asr) in enumerate(values):
            write("refuse", "none", w, r, c, asr)
    lines = []
    for rows in (["rsr/own", "filter/classifier", "refuse/none"], ["rsr/own", "refuse/none", "filter/classifier"]):
        sys.argv = ["capability_adjusted.py", str(tmp_path), *rows]
        ca.main()
        lines.append(sorted(x for x in capsys.readouterr().out.splitlines() if "refuse/none" in x))
    assert lines[0] == lines[1] and len(lines[0]) == 2, lines
    # A run without its `none` row is an error, never a run left out.
    write("rsr", "own", 0, 3, 50, 30)
    json_path = tmp_path / "seed-0" / "replicate-3" / "runs" / "rsr" / "summary.json"
    json_path.write_text(json.dumps({"operating": [{"monitor": "own", "test_composed_correct": {"k": 0, "n": 1},
                                                    "test_asr_safe_knowledge": {"k": 0, "n": 1}}]}))
    with pytest.raises(ValueError, match="no greedy `none` operating point"):
        ca.points([str(tmp_path)], "rsr/own")


def _probe_results(shift, failing=None, runs=3):
    """A raw-only probe's results.json: each calibration world's runs compose today's values
    (gate_odds.RUNS) plus `shift[w]` points (capped at 100); `failing` {world: gate} fails it."""
    import gate_odds

    seeds, worlds = [], []
    for w, today in gate_odds.RUNS.items():
        for r, x in enumerate(today[:runs]):
            gates = [{"name": "raw_benign_composed", "value": min(100.0, x + shift[w]) / 100, "n": 72}]
            seeds.append({"seed": w, "replicate": r, "calibration": {"gates": gates}})
        gates = [{"name": g, "value": 0.9, "pass": (failing or {}).get(w) != g}
                 for g in ["raw_benign_written", "raw_benign_composed", "raw_safe_knowledge_asr"]]
        gates.append({"name": "filter_precondition", "value": 0.0, "pass": False})  # not measured: raw only
        worlds.append({"seed": w, "replicates": list(range(runs)), "gates": gates, "passed": False})
    return {"seeds": seeds, "worlds": worlds}


def test_the_v8_probe_is_a_lead_only_if_it_composes_more_by_world_and_raws_other_gates_pass(tmp_path):
    import subprocess

    import v8_read

    more = {100: 20, 104: 30, 101: 8, 102: 15, 103: 5}  # +15.6 over worlds, every world up
    lead, lines = v8_read.read(_probe_results(more))
    assert lead and lines[-1].startswith("lead: yes"), lines
    # The same lift with a failing written-benign gate on one world: no lead.
    lead, lines = v8_read.read(_probe_results(more, failing={101: "raw_benign_written"}))
    assert not lead and "fail on 101 raw_benign_written" in lines[2], lines
    # Composing like today (one world up, one down): no lead, whatever the gates.
    lead, lines = v8_read.read(_probe_results({100: 10, 104: -10, 101: 0, 102: 3, 103: -2}))
    assert not lead and "not shown to compose more" in lines[1], lines
    # Two runs a world: not read.
    with pytest.raises(ValueError, match="without 3 runs"):
        v8_read.read(_probe_results(more, runs=2))
    # The queue asks with --lead: 0 on a lead, 1 without, 2 on a study it cannot read.
    for results, code in [(_probe_results(more), 0), (_probe_results({w: 0 for w in more}), 1),
                          (_probe_results(more, runs=2), 2)]:
        path = tmp_path / "results.json"
        path.write_text(json.dumps(results))
        p = subprocess.run([sys.executable, str(ROOT / "docs/calibration/v8_read.py"), "--lead", str(path)],
                           cwd=ROOT / "docs/calibration", capture_output=True, text=True)
        assert p.returncode == code, p.stdout + p.stderr


def test_the_queue_trains_filter_beside_the_v8_probe_only_on_a_lead(tmp_path):
    (tmp_path / "v8-lessons40").mkdir()
    results = tmp_path / "v8-lessons40" / "results.json"
    filter_run = f"+ rsr study --out {tmp_path}/v8-lessons40 --seeds 100,104,101,102,103 --replicates 3 --variants raw,filter"
    for shift, trained in [({100: 20, 104: 30, 101: 8, 102: 15, 103: 5}, True), ({w: 0 for w in (100, 101, 102, 103, 104)}, False)]:
        results.write_text(json.dumps(_probe_results(shift)))
        code, out, err = _queue(tmp_path)
        assert code == 0, err
        assert any(line.startswith(filter_run) for line in out.splitlines()) == trained, out
        assert ("lead: yes" in out) == trained
    # A probe whose results cannot be read stops the queue there.
    results.write_text(json.dumps(_probe_results({w: 0 for w in (100, 101, 102, 103, 104)}, runs=2)))
    code, out, err = _queue(tmp_path)
    assert code != 0 and "could not be read" in err and "== 3." not in out
