#!/usr/bin/env bash
# Training throughput of the `avx512` build (gemm 0.19's AVX-512 kernels) against the default
# build (gemm 0.18: AVX2+FMA), the same model, batch and optimizer (`cargo bench -p rsr-model
# --bench train`: batch 16 × 256, AdamW), on every thread and on one (what `rsr study --jobs 2`
# gives each model on two cores). Rounds alternate the two builds so a noisy neighbour hits both;
# each line is one round, the last lines the median ratio (avx512 / default) per setting.
#
#   bench/avx512.sh                 # 5 rounds of 10 steps, tiny
#   ROUNDS=7 STEPS=15 PRESETS="tiny small" bench/avx512.sh
#
# On a CPU without AVX-512 both builds run the same AVX2 kernels (ratio ~1). Builds what it needs.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${ROUNDS:-5}
steps=${STEPS:-10}
presets=${PRESETS:-tiny}
grep -q avx512f /proc/cpuinfo 2>/dev/null || echo "note: this CPU reports no avx512f; expect a ratio of ~1"
bin() { cargo bench -p rsr-model --bench train --no-run "$@" 2>&1 | grep -o 'target/release/deps/train-[0-9a-f]*' | tail -1; }
base=$(bin)
fast=$(bin --features avx512)
[ -x "$base" ] && [ -x "$fast" ] || { echo "could not build the two benches" >&2; exit 2; }
tps() { RAYON_NUM_THREADS=$1 RSR_TORCH_PYTHON=/nonexistent "$2" "$steps" 1 "$3" | grep -o 'rsr *[0-9]* tok/s' | grep -o '[0-9]*'; }
median() { sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
echo "$(nproc) threads; $rounds rounds of $steps steps; default $base, avx512 $fast"
for preset in $presets; do
  for threads in "$(nproc)" 1; do
    ratios=()
    for r in $(seq "$rounds"); do
      a=$(tps "$threads" "$base" "$preset")
      b=$(tps "$threads" "$fast" "$preset")
      ratio=$(echo "scale=3; $b / $a" | bc)
      ratios+=("$ratio")
      printf '%-6s %2d thread(s) round %d: default %6d tok/s | avx512 %6d tok/s | ratio %s\n' "$preset" "$threads" "$r" "$a" "$b" "$ratio"
    done
    echo "$preset, $threads thread(s): median ratio (avx512 / default) $(printf '%s\n' "${ratios[@]}" | median)"
  done
done
