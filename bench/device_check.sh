#!/usr/bin/env bash
# The device check behind docs/benchmarks.md, "On a GPU". Run on the GPU machine from a folder
# holding: `equal` (cargo test --release -p rsr-candle --features cuda --no-run: the test binary),
# `rsr` (cargo build --release -p rsr-cli --features cuda), both optionally gzipped, and
# `packed/` (an `rsr pack` output; the figures used a SafetyWorld rsr corpus,
# `rsr study`'s seed-3/packed/rsr). OUT is where the log and each run's metrics.jsonl go.
#   OUT=/tmp/out bash FOLDER/device_check.sh
# It runs the equality tests on the GPU, then times training on the GPU and on the same machine's
# CPU cores over that corpus.
set -u
cd "$(dirname "$0")"
exec > >(tee "$OUT/log.txt") 2>&1
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv
nproc
L=""
for lib in libcudart.so.13 libcublas.so.13 libcublasLt.so.13 libnvrtc.so.13 libcurand.so.10; do
  p=$(find /usr /opt /root /home -name "$lib" 2>/dev/null | head -1); echo "$lib -> $p"; [ -n "$p" ] && L="$L:$(dirname "$p")"
done
if ! ldconfig -p | grep -q 'libcuda.so.1 '; then
  p=$(find /usr/local/nvidia /usr/lib /usr/lib64 -name libcuda.so.1 2>/dev/null | head -1); echo "libcuda.so.1 -> $p"; [ -n "$p" ] && L="$L:$(dirname "$p")"
fi
export LD_LIBRARY_PATH="${L#:}:${LD_LIBRARY_PATH:-}"
echo "LD_LIBRARY_PATH=$LD_LIBRARY_PATH"
for f in *.gz; do [ -e "$f" ] && gunzip -f "$f"; done
chmod +x equal rsr
echo "== equality tests (CPU and CUDA) =="
timeout 120 ./equal --test-threads 1 2>&1 | tail -15
run() { # name device preset batch seq seconds threads
  local name=$1; shift
  echo "== $name: $*"
  timeout "$5" ./rsr train --data packed --out "runs/$name" --device "$1" --preset "$2" --batch-size "$3" --seq-len "$4" \
    --tokens 4000000 --eval-every 0 --checkpoint-every 0 --threads "$6" --seed 0 > "runs-$name.log" 2>&1
  echo "rc=$? $(tail -2 "runs-$name.log" | tr '\n' ' ' | cut -c1-300)"
  cp "runs/$name/metrics.jsonl" "$OUT/$name.metrics.jsonl" 2>/dev/null
}
mkdir -p runs
run cuda-tiny-b8 cuda tiny 8 256 30 16
run cpu-tiny-b8 cpu tiny 8 256 30 16
run cuda-tiny-b128 cuda tiny 128 256 30 16
run cuda-small-b128 cuda small 128 256 30 16
run cpu-small-b16 cpu small 16 256 30 16
run cuda-base-b32x1024 cuda base 32 1024 45 16
run cpu-base-b4x1024 cpu base 4 1024 40 16
python3 - <<'PY'
import json, glob, os, statistics
for f in sorted(glob.glob(os.environ["OUT"] + "/*.metrics.jsonl")):
    rows = [json.loads(l) for l in open(f) if l.strip()]
    if not rows:
        print(os.path.basename(f), "no steps"); continue
    tps = [r["tok_per_s"] for r in rows[3:]] or [rows[-1]["tok_per_s"]]
    print(f"{os.path.basename(f).replace('.metrics.jsonl',''):22s} steps {len(rows):5d}  median tok/s {statistics.median(tps):12.0f}  loss first {rows[0]['loss']:.4f} last {rows[-1]['loss']:.4f}")
def losses(name):
    p = os.environ["OUT"] + f"/{name}.metrics.jsonl"
    return {r["step"]: r["loss"] for r in map(json.loads, open(p))} if os.path.exists(p) else {}
a, b = losses("cuda-tiny-b8"), losses("cpu-tiny-b8")
common = sorted(set(a) & set(b))
for s in [x for x in (1, 10, 50, 100, 200, 400, 800) if x in a and x in b]:
    print(f"tiny b8 step {s:4d}: loss cuda {a[s]:.5f} cpu {b[s]:.5f} diff {a[s]-b[s]:+.5f}")
print("common steps", len(common))
PY
