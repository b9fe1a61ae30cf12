#!/usr/bin/env bash
# Training throughput of `--jobs`: one `tiny` model on every core, against as many models at once
# as there are cores, one thread each (what `rsr study --jobs N` does). Rounds alternate the two;
# each prints tokens a second, and the last line the median ratio (models at once / one model).
#
#   bench/jobs.sh                  # 3 rounds of 300k tokens per model
#   ROUNDS=5 TOKENS=600000 bench/jobs.sh
#
# Needs a release build (`cargo build --release -p rsr-cli`) and nothing else: it builds a
# SafetyWorld corpus (the corpus side only, no training) in a temporary directory.
set -euo pipefail
cd "$(dirname "$0")/.."
rsr=${RSR:-target/release/rsr}
tokens=${TOKENS:-300000}
rounds=${ROUNDS:-3}
cores=${CORES:-$(nproc)}
[ -x "$rsr" ] || { echo "no $rsr: cargo build --release -p rsr-cli first" >&2; exit 2; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

"$rsr" demo --out "$work/demo" --docs 6000 --train-tokens 0 >/dev/null
pack="$work/demo/packed/raw"

# tokens/s of one training run: THREADS OUT
train() {
  "$rsr" --threads "$1" train --data "$pack" --preset tiny --tokens "$tokens" --batch-size 8 \
    --schedule wsd --eval-every 0 --out "$2" 2>&1 | grep -o '[0-9.]* tokens/s' | cut -d' ' -f1
}

echo "tiny, $tokens tokens per model, $cores cores, $rounds rounds"
ratios=()
for r in $(seq "$rounds"); do
  one=$(train "$cores" "$work/one-$r")
  rm -rf "$work"/one-"$r"
  for j in $(seq "$cores"); do train 1 "$work/at-once-$r-$j" > "$work/at-once-$r-$j.tps" & done
  wait
  together=$(cat "$work"/at-once-"$r"-*.tps | paste -sd+ | bc)
  rm -rf "$work"/at-once-"$r"-*
  ratio=$(echo "scale=3; $together / $one" | bc)
  ratios+=("$ratio")
  printf 'round %d: one model on %d threads %8.0f tokens/s | %d models at once, 1 thread each %8.0f tokens/s together | ratio %s\n' \
    "$r" "$cores" "$one" "$cores" "$together" "$ratio"
done
median=$(printf '%s\n' "${ratios[@]}" | sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}')
echo "median ratio (models at once / one model): $median"
