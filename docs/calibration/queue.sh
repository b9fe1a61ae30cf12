#!/usr/bin/env bash
# The compute fixed in advance, in this order:
#   1. five recipes at 60% compute  docs/safetyworld.md, "a recipe at 60% of the compute" (the
#                                   fifth, sequence length, "a fifth recipe", added 2026-12-06)
#      and the shape probe's lead   docs/safetyworld.md, "what follows a lead" (4M tokens at
#                                   8 heads of 16; queued here in session 24, before it trained)
#   2. the recipe the rest trains at: 4M tokens, or the recipe (else the lead) that reached the
#                                   gates (docs/calibration/recipe_choice.py; docs/safetyworld.md,
#                                   "what follows each outcome", fixed before any recipe was read)
#  2b. the v8 probe over runs       docs/safetyworld.md, "the v8 probe, read over runs" (a world
#                                   knob, raw only; queued in session 29 before it trained; read
#                                   the same day, run 17: no lead)
#   3. the baselines' trials        docs/ablations.md, "Fair choice" (under way since 2026-12-05);
#                                   at a recipe, with rsr's default and candidates beside them
#   4. the comparison               docs/ablations.md, "Then the comparison"
#   5. the plateau budget           docs/study.md, "the study at the plateau budget"
# (The recipes were first fixed to run after the comparison; moved first on 2026-12-05, before
# any recipe or comparison model trained, because a recipe that reaches the gates has the
# comparison rerun at it — run before, the comparison could be trained twice.)
# Every step is `rsr study`, which keeps finished models: run this again to resume where it
# stopped (a machine that goes away loses only the models in flight). It decides nothing: the
# recipe is what docs/calibration/recipe_choice.py prints, the comparison's variants what
# docs/calibration/baseline_choice.py prints from the trials' results, each by a rule committed
# before its studies trained, and nothing else is read here.
#
# usage (from the repository root):
#   docs/calibration/queue.sh           train what is missing, step after step
#   docs/calibration/queue.sh export    copy every finished summary into docs/calibration/kept/
#                                       (the files a study carries: docs/study.md, item 12)
#   docs/calibration/queue.sh plan      each study's `rsr study --plan` summary (models left of
#                                       those its directory holds, and the time they may take);
#                                       trains nothing, copies nothing
# environment:
#   RSR=path/to/rsr   the binary (default: rsr on PATH)
#   CALIB=DIR         where the studies live (default: calib)
#   DRY_RUN=1         print the commands, run nothing
# bash reads a script as it runs it: to edit the checkout while the queue runs, run a copy
# (`cp docs/calibration/queue.sh /tmp/queue.sh && bash /tmp/queue.sh`, from the repository root).
set -euo pipefail
RSR=${RSR:-rsr}
CALIB=${CALIB:-calib}
KEPT=docs/calibration/kept
[ -d "$KEPT" ] || { echo "run this from the repository root (no $KEPT here)" >&2; exit 1; }

run() {
  echo "+ $*"
  if [ -n "${PLAN:-}" ] && [ "$1" = "$RSR" ] && [ "$2" = study ]; then
    "$@" --plan | sed -n 2p | sed 's/^/  /'
  elif [ -z "${DRY_RUN:-}" ]; then
    "$@"
  fi
}

# copy_missing FROM DIR: every file of FROM that DIR lacks (what DIR has is never overwritten;
# `cp -n` is not used: coreutils 9.2 made a skipped file an error, later ones warn).
copy_missing() {
  echo "+ copy_missing $1 $2"
  [ -z "${DRY_RUN:-}" ] || return 0
  (cd "$1" && find . -type f) | while read -r f; do
    [ -e "$2/$f" ] || { mkdir -p "$2/$(dirname "$f")" && cp "$1/$f" "$2/$f"; }
  done
}

# seed DIR FROM: a study directory begins with kept files.
seed() {
  [ -d "$2" ] || { echo "no kept files at $2" >&2; exit 1; }
  copy_missing "$2" "$1"
  [ -z "${PLAN:-}" ] || [ -d "$1" ] || echo "  (not copied in a plan: the count below includes the models $2 holds)"
}

# carry NAME: the summaries an earlier machine exported (`queue.sh export`) go back in first, so a
# fresh machine resumes where the last one stopped (docs/study.md, item 12).
carry() {
  [ -d "$KEPT/$1" ] || return 0
  copy_missing "$KEPT/$1" "$CALIB/$1"
}

TRIALS=filter,refuse,tag,filter-continued,filter-mean50,filter-mean60,filter-mean70,filter-segments,refuse-continued,refuse-fixed,refuse-category,refuse-offer,refuse-no-notice,refuse-half,refuse-drop-exchange,tag-continued,tag-untagged0,tag-untagged5,tag-untagged10,tag-untagged20,tag-untagged30,tag-untagged50
mapfile -t RECIPES < <(python3 docs/calibration/recipe_choice.py --list)
[ "${#RECIPES[@]}" = 5 ] || { echo "recipe_choice.py --list did not list the five recipes" >&2; exit 1; }
mapfile -t LEADS < <(python3 docs/calibration/recipe_choice.py --list-leads)

# name → the kept files it starts from (exported files identical to these are not copied back)
seed_of() {
  case "$1" in
    eval-final | plateau) echo docs/kept/eval-r3 ;;
    base-trials) echo "$KEPT/cand-cal" ;;
    *) echo "" ;;
  esac
}

[ "${1:-}" != plan ] || { DRY_RUN=1 PLAN=1; }

if [ "${1:-}" = export ]; then
  for dir in "$CALIB"/base-trials "$CALIB"/trials-* "$CALIB"/eval-* "$CALIB"/r60-* "$CALIB"/shape-* "$CALIB"/plateau* \
    "$CALIB"/v8-*; do
    [ -f "$dir/study.json" ] || continue
    name=$(basename "$dir") from=$(seed_of "$(basename "$dir")") tmp=$(mktemp -d)
    "$RSR" study --out "$dir" --export-kept "$tmp/kept" >/dev/null
    (cd "$tmp/kept" && find . -type f) | while read -r f; do
      if [ -n "$from" ] && [ -f "$from/$f" ] && cmp -s "$tmp/kept/$f" "$from/$f"; then continue; fi
      mkdir -p "$KEPT/$name/$(dirname "$f")"
      cp "$tmp/kept/$f" "$KEPT/$name/$f"
    done
    rm -rf "$tmp"
    echo "$name: $(find "$KEPT/$name" -name summary.json | wc -l) summaries in $KEPT/$name"
  done
  exit 0
fi

echo "== 1. five recipes at 60% of today's training compute, then the shape probe's lead (35 models each)"
# calibrate DIR KNOB...: the recipe study's 35 models (recipe_choice.py reads DIR/results.json)
calibrate() {
  local dir=$1; shift
  carry "$dir"
  run "$RSR" study --out "$CALIB/$dir" --seeds 100,104,101,102,103 --replicates 3 --variants raw,filter \
    --control-every-seed --samples 0 --jobs 2 "$@"
}
# shellcheck disable=SC2086  # the knobs are words
for study in "${RECIPES[@]}" "${LEADS[@]}"; do calibrate $study; done

echo "== 2. the recipe the rest trains at"
if choice=$(python3 docs/calibration/recipe_choice.py "$CALIB" 2>&1); then
  echo "$choice"
  recipe=$(echo "$choice" | sed -n 's/^chosen: //p')
elif [ -n "${DRY_RUN:-}" ]; then
  echo "+ (the recipe docs/calibration/recipe_choice.py chooses; none in a dry run without the recipes' results)"
  recipe=none
else
  echo "$choice" >&2; echo "no recipe chosen (above): the rest waits for the five recipes" >&2; exit 1
fi
read -r rname rknob <<<"$recipe"

echo "== 2b. the v8 probe over runs: the lessons' weight 40, raw only (15 models)"
# docs/safetyworld.md, "the v8 probe, read over runs" (fixed 2026-12-06, session 29, before it
# trained; put ahead of the rest because a lead has the rest trained again on another world).
# Read, as everything here, only by the script that holds its rule (v8_read.py). Run 17: no lead.
carry v8-lessons40
run "$RSR" study --out "$CALIB/v8-lessons40" --seeds 100,104,101,102,103 --replicates 3 --variants raw \
  --no-control --samples 0 --jobs 2 --lesson-weight 40
# A lead (v8_read.py, the rule as fixed) has filter and the controls trained on the same worlds and
# runs, so that every gate is read there; what follows that is docs/safetyworld.md's, not this queue's.
if [ -n "${DRY_RUN:-}" ] && [ ! -f "$CALIB/v8-lessons40/results.json" ]; then
  echo "+ (on a lead, as docs/calibration/v8_read.py --lead reads it: filter and the controls on the same worlds)"
else
  set +e
  python3 docs/calibration/v8_read.py --lead "$CALIB/v8-lessons40/results.json"
  lead=$?
  set -e
  case $lead in
    0) run "$RSR" study --out "$CALIB/v8-lessons40" --seeds 100,104,101,102,103 --replicates 3 --variants raw,filter \
         --control-every-seed --samples 0 --jobs 2 --lesson-weight 40 ;;
    1) ;;
    *) echo "the v8 probe's results could not be read (above)" >&2; exit 1 ;;
  esac
fi

if [ "$rname" != none ]; then
  # docs/safetyworld.md, "what follows each outcome": every choice made again at the recipe.
  echo "== 3. at $rname: the baselines' trials beside rsr's default and its candidates (225 models)"
  carry "trials-$rname"
  # shellcheck disable=SC2086  # the knob is words
  run "$RSR" study --out "$CALIB/trials-$rname" --seeds 100,104,101 --replicates 3 --no-control --samples 0 \
    --variants "$TRIALS,rsr,rsr-continued,rsr-nomask" $rknob --jobs 2
  echo "== 4. at $rname: the comparison, every variant trained at it, the gates over twelve runs a world"
  if [ -n "${DRY_RUN:-}" ] && [ ! -f "$CALIB/trials-$rname/results.json" ]; then
    echo "+ (the command docs/calibration/baseline_choice.py --recipe prints from $CALIB/trials-$rname/results.json)"
  else
    # shellcheck disable=SC2086  # the recipe is words
    choice=$(python3 docs/calibration/baseline_choice.py "$CALIB/trials-$rname/results.json" --recipe $recipe)
    echo "$choice"
    command=$(echo "$choice" | sed -n 's/^    rsr study /study /p')
    [ -n "$command" ] || { echo "no comparison: a baseline is not chosen (above)" >&2; exit 1; }
    carry "eval-$rname"
    # shellcheck disable=SC2086  # the printed command is words
    run "$RSR" ${command//--out calib\//--out $CALIB/} --jobs 2
  fi
  echo "== 5. at $rname: the plateau budget on the evaluation worlds"
  carry "plateau-$rname"
  # shellcheck disable=SC2086  # the knob is words
  run "$RSR" study --out "$CALIB/plateau-$rname" --seeds 0,1,2,3,4 --replicates 3 --control-every-seed \
    --samples 0 --budgets compute,plateau $rknob --jobs 2
  echo "== done: read each as its page says (nothing here reads a result)"
  exit 0
fi

echo "== 3. the baselines' trials at 4M tokens (189 models)"
if [ ! -f "$CALIB/base-trials/study.json" ]; then
  # filter's default runs are the candidates' confirmation's, copied in, not trained again.
  run mkdir -p "$CALIB/base-trials"
  run cp "$KEPT/cand-cal/study.json" "$CALIB/base-trials/"
  for w in seed-100 seed-104 seed-101; do
    for r in "" replicate-1/ replicate-2/; do
      run mkdir -p "$CALIB/base-trials/$w/${r}runs"
      run cp -r "$KEPT/cand-cal/$w/${r}runs/filter" "$CALIB/base-trials/$w/${r}runs/"
    done
  done
fi
carry base-trials
run "$RSR" study --out "$CALIB/base-trials" --seeds 100,104,101 --replicates 3 --no-control --samples 0 \
  --variants "$TRIALS" --jobs 2

echo "== 4. the comparison at 4M tokens, with each baseline's chosen configuration"
if [ -n "${DRY_RUN:-}" ] && [ ! -f "$CALIB/base-trials/results.json" ]; then
  echo "+ (the command docs/calibration/baseline_choice.py prints from $CALIB/base-trials/results.json)"
else
  choice=$(python3 docs/calibration/baseline_choice.py "$CALIB/base-trials/results.json")
  echo "$choice"
  command=$(echo "$choice" | sed -n 's/^    rsr study /study /p')
  [ -n "$command" ] || { echo "no comparison: a baseline is not chosen (above)" >&2; exit 1; }
  seed "$CALIB/eval-final" docs/kept/eval-r3
  carry eval-final
  # --jobs 2 as for the trials (two 1-thread models at once: faster, the same bits).
  # shellcheck disable=SC2086  # the printed command is words
  run "$RSR" ${command//--out calib\//--out $CALIB/} --jobs 2
fi

echo "== 5. the plateau budget on the evaluation worlds (75 models)"
seed "$CALIB/plateau" docs/kept/eval-r3
carry plateau
run "$RSR" study --out "$CALIB/plateau" --seeds 0,1,2,3,4 --replicates 3 --control-every-seed --samples 0 \
  --budgets compute,plateau --jobs 2
echo "== done: read each as its page says (nothing here reads a result)"
