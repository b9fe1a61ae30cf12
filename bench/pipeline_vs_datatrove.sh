#!/usr/bin/env bash
# rsr's corpus pipeline against a datatrove tokenization pipeline, on the same real prose, the same
# tokenizer and the same cores, in one run.
#   rsr:       read → segment → classify (hashed, every sentence) → transform rsr (--every 128),
#              one process per core (--rank/--world-size), then `rsr pack` (tokenize + loss mask +
#              shards, every core) — the whole job, end to end
#   datatrove: JsonlReader → DocumentTokenizer (tokenize only), LocalPipelineExecutor, one task per core
# Corpora: `real` (default) — bench/real_prose.py (installed documentation and Python docstrings,
# ~60 MB) in 8 JSONL files, with a 32k byte-level BPE trained on it (`rsr tokenizer train`);
# `synthetic` — SafetyWorld documents repeated with fresh ids (bench/make_corpus.py, 60 MB in 8
# .jsonl.zst files) with the 4k BPE of bench/pipeline.sh. The same tokenizer for both pipelines.
# Runs alternate, 3 each; medians; the ratio is datatrove wall time ÷ rsr wall time.
# Needs datatrove: a virtualenv with
#   pip install "datatrove[processing]==0.10.1" tokenizers orjson zstandard
# named by DATATROVE_PYTHON (default: python3).
# Usage: bench/pipeline_vs_datatrove.sh [real|synthetic] [WORK=/tmp/rsr-bench-CORPUS] [RUNS=3]
set -euo pipefail
cd "$(dirname "$0")/.."
CORPUS=${1:-real}
WORK=${2:-/tmp/rsr-bench-$CORPUS}
RUNS=${3:-3}
PY=${DATATROVE_PYTHON:-python3}
CORES=$(nproc)
cargo build --release -q -p rsr-cli
R=$PWD/target/release/rsr
mkdir -p "$WORK/in"
[ -f "$WORK/world/world.json" ] || $R gym --out "$WORK/world" --docs 20000 >/dev/null
if [ "$CORPUS" = real ]; then
  GLOB='*.jsonl'
  if [ ! -f "$WORK/prose.jsonl" ]; then
    python3 bench/real_prose.py "$WORK/prose.jsonl"
    split -n l/8 -d --additional-suffix=.jsonl "$WORK/prose.jsonl" "$WORK/in/part-"
  fi
  [ -f "$WORK/tok.json" ] || $R tokenizer train --input "$WORK/prose.jsonl" --vocab-size 32000 --out "$WORK/tok.json" >/dev/null
else
  GLOB='*.jsonl.zst'
  python3 bench/make_corpus.py "$WORK/world/documents.jsonl" 60 "$WORK/in" 8 >/dev/null
  [ -f "$WORK/tok.json" ] || $R tokenizer train --input "$WORK/world" --vocab-size 4096 --out "$WORK/tok.json" >/dev/null
fi
[ -f "$WORK/clf.rsrclf" ] || $R classifier train --corpus "$WORK/world" --out "$WORK/clf.rsrclf" >/dev/null
now() { date +%s.%N; }

rsr_run() {
  rm -rf "$WORK/rsr" "$WORK/packed"
  local t0 t1 t2
  t0=$(now)
  for r in $(seq 0 $((CORES - 1))); do
    $R transform --mode rsr --input "$WORK/in" --classifier "$WORK/clf.rsrclf" --every 128 \
      --out "$WORK/rsr" --rank "$r" --world-size "$CORES" >"$WORK/rank-$r.log" 2>&1 &
  done
  wait
  $R stats merge "$WORK/rsr" >/dev/null
  t1=$(now)
  $R pack --input "$WORK/rsr" --tokenizer "$WORK/tok.json" --out "$WORK/packed" >"$WORK/pack.log" 2>&1
  t2=$(now)
  echo "$t0 $t1 $t2"
}

dt_run() {
  rm -rf "$WORK/dt-out" "$WORK/dt-logs"
  local t0 t1
  t0=$(now)
  "$PY" - "$WORK" "$CORES" "$GLOB" <<'PY'
import sys
from datatrove.executor import LocalPipelineExecutor
from datatrove.pipeline.readers import JsonlReader
from datatrove.pipeline.tokens import DocumentTokenizer
work, cores, glob = sys.argv[1], int(sys.argv[2]), sys.argv[3]
LocalPipelineExecutor(
    pipeline=[
        JsonlReader(f"{work}/in", glob_pattern=glob),
        DocumentTokenizer(f"{work}/dt-out", tokenizer_name_or_path=f"{work}/tok.json", eos_token="<|endoftext|>",
                          shuffle_documents=False),
    ],
    tasks=cores, workers=cores, logging_dir=f"{work}/dt-logs", start_method="fork",
).run()
PY
  t1=$(now)
  echo "$t0 $t1"
}

rsr_times=(); pack_times=(); dt_times=()
for i in $(seq 1 "$RUNS"); do
  read -r a b c < <(rsr_run)
  rsr_times+=("$(echo "$c - $a" | bc)"); pack_times+=("$(echo "$c - $b" | bc)")
  read -r a b < <(dt_run 2>/dev/null)
  dt_times+=("$(echo "$b - $a" | bc)")
done

python3 - "$WORK" "$CORES" "${rsr_times[*]}" "${pack_times[*]}" "${dt_times[*]}" "$CORPUS" <<'PY'
import json, statistics, sys
work, cores = sys.argv[1], int(sys.argv[2])
rsr = [float(x) for x in sys.argv[3].split()]
pack = [float(x) for x in sys.argv[4].split()]
dt = [float(x) for x in sys.argv[5].split()]
corpus = sys.argv[6]
pm = json.load(open(f"{work}/packed/manifest.json"))["counts"]["splits"]
tokens = sum(pm[s]["tokens"] for s in pm)
tm = json.load(open(f"{work}/rsr/manifest.json"))["counts"]
med = statistics.median
print(f"{corpus}: {tm['bytes_in'] / 1e6:.0f} MB, {tm['docs_in']} documents, {tokens:,} tokens after pack; {cores} cores; {len(rsr)} runs each, medians")
print(f"{'pipeline':<62} {'wall s':>7} {'tokens/s per core-s':>20}")
print(f"{'rsr: classify + transform rsr (' + str(cores) + ' ranks) + pack (' + str(cores) + ' threads)':<62} {med(rsr):>7.1f} {tokens / med(rsr) / cores:>20,.0f}")
print(f"{'   of which pack':<62} {med(pack):>7.1f}")
print(f"{'datatrove 0.10.1: JsonlReader → DocumentTokenizer (' + str(cores) + ' tasks)':<62} {med(dt):>7.1f} {tokens / med(dt) / cores:>20,.0f}")
print(f"ratio (datatrove wall ÷ rsr wall): {med(dt) / med(rsr):.2f}x   runs: rsr {rsr}, datatrove {dt}")
PY
