#!/usr/bin/env bash
# Transform throughput on a generated SafetyWorld corpus of at least 200 MB.
#
#   bench/transform.sh [DOCS] [RUNS]     (defaults: 1200000 documents ≈ 220 MB, 3 runs)
#
# Builds the release binary, generates the corpus once (bench/out/, reused on
# reruns with the same DOCS), then times each transform mode RUNS times and
# prints the median MB/s and docs/s (single-threaded, as read from each run's
# manifest) next to `raw`, the pass that only reads and writes, measured in
# the same run.
set -euo pipefail
cd "$(dirname "$0")/.."
DOCS=${1:-1200000}
RUNS=${2:-3}
OUT=bench/out
cargo build --release --quiet -p rsr-cli
RSR=target/release/rsr

if [ ! -f "$OUT/world-$DOCS/manifest.json" ]; then
  echo "generating $DOCS documents ..."
  /usr/bin/time -f "gym: %e s, max RSS %M KB" $RSR gym --out "$OUT/world-$DOCS" --docs "$DOCS" --heldout-docs 10 >/dev/null
fi
python3 - "$OUT/world-$DOCS/manifest.json" <<'PY'
import json, sys
m = json.load(open(sys.argv[1]))
print(f"corpus: {m['counts']['train']['docs']} docs, {m['counts']['train']['bytes']/1e6:.1f} MB")
PY

for mode in raw rsr filter rewrite tag; do
  for run in $(seq "$RUNS"); do
    /usr/bin/time -f "%M" -o "$OUT/rss-$mode-$run" \
      $RSR transform --mode "$mode" --input "$OUT/world-$DOCS" --out "$OUT/t-$mode" --every 16 >/dev/null 2>&1
    cp "$OUT/t-$mode/manifest.json" "$OUT/m-$mode-$run.json"
  done
done

python3 - "$OUT" "$RUNS" <<'PY'
import json, statistics, sys
out, runs = sys.argv[1], int(sys.argv[2])
rows = {}
for mode in ["raw", "rsr", "filter", "rewrite", "tag"]:
    ms = [json.load(open(f"{out}/m-{mode}-{r}.json")) for r in range(1, runs + 1)]
    rss = [int(open(f"{out}/rss-{mode}-{r}").read().split()[-1]) for r in range(1, runs + 1)]
    rows[mode] = (statistics.median(m["timing"]["mb_per_s"] for m in ms),
                  statistics.median(m["timing"]["docs_per_s"] for m in ms),
                  statistics.median(m["timing"]["seconds"] for m in ms),
                  max(rss) / 1024)
base = rows["raw"][0]
print(f"{'mode':<8} {'MB/s':>8} {'docs/s':>10} {'seconds':>8} {'max RSS MB':>11} {'vs raw':>7}   (median of {runs})")
for mode, (mb, docs, secs, rss) in rows.items():
    print(f"{mode:<8} {mb:>8.1f} {docs:>10.0f} {secs:>8.2f} {rss:>11.0f} {mb/base:>6.2f}x")
PY
