#!/usr/bin/env bash
# End-to-end corpus pipeline on a generated JSONL.zst corpus:
#   read → segment → classify (hashed) → transform rsr   (rsr transform, one process per core: --rank/--world-size)
#   → pack (tokenize, loss mask, shards)                 (rsr pack, one process)
# Prints tokens/s per core overall and per stage. Usage: bench/pipeline.sh [SIZE_MB=1024] [WORK=/tmp/rsr-bench-pipeline]
set -euo pipefail
cd "$(dirname "$0")/.."
SIZE_MB=${1:-1024}
WORK=${2:-/tmp/rsr-bench-pipeline}
CORES=$(nproc)
cargo build --release -q -p rsr-cli
R=target/release/rsr
mkdir -p "$WORK"
[ -f "$WORK/world/world.json" ] || $R gym --out "$WORK/world" --docs 20000 >/dev/null
[ -f "$WORK/tok.json" ] || $R tokenizer train --input "$WORK/world" --vocab-size 4096 --out "$WORK/tok.json" >/dev/null
$R classifier train --corpus "$WORK/world" --out "$WORK/clf.rsrclf" >/dev/null
python3 bench/make_corpus.py "$WORK/world/documents.jsonl" "$SIZE_MB" "$WORK/in" 8
rm -rf "$WORK/rsr" "$WORK/packed"
now() { date +%s.%N; }

t0=$(now)
for r in $(seq 0 $((CORES - 1))); do
  $R transform --mode rsr --input "$WORK/in" --classifier "$WORK/clf.rsrclf" --every 128 --zstd \
    --out "$WORK/rsr" --rank "$r" --world-size "$CORES" >"$WORK/rank-$r.log" 2>&1 &
done
wait
t1=$(now)
$R stats merge "$WORK/rsr" >/dev/null
$R pack --input "$WORK/rsr" --tokenizer "$WORK/tok.json" --out "$WORK/packed" >"$WORK/pack.log" 2>&1
t2=$(now)

python3 - "$WORK" "$t0" "$t1" "$t2" "$CORES" <<'PY'
import json, sys
work, t0, t1, t2, cores = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4]), int(sys.argv[5])
tm = json.load(open(f"{work}/rsr/manifest.json"))["counts"]
pm = json.load(open(f"{work}/packed/manifest.json"))["counts"]["splits"]
tokens = sum(pm[s]["tokens"] for s in pm)
mb = tm["bytes_in"] / 1e6
ta, tb = t1 - t0, t2 - t1
print(f"corpus: {mb:.0f} MB of text in {tm['parts']} files, {tm['docs_in']} documents, {tokens} tokens after pack")
print(f"{'stage':<44} {'seconds':>8} {'cores':>5} {'MB/s':>8} {'tokens/s/core':>14}")
print(f"{'read+segment+classify+transform (rsr)':<44} {ta:>8.1f} {cores:>5} {mb/ta:>8.1f} {tokens/ta/cores:>14,.0f}")
print(f"{'pack (tokenize, mask, shards)':<44} {tb:>8.1f} {1:>5} {mb/tb:>8.1f} {tokens/tb:>14,.0f}")
print(f"{'end to end':<44} {ta+tb:>8.1f} {'':>5} {mb/(ta+tb):>8.1f} {tokens/(ta*cores+tb):>14,.0f}  (per core-second used)")
PY
