#!/usr/bin/env bash
# Token overhead of reflections (format v2): inserted tokens per token of original text, as
# `rsr transform` counts it with the corpus's own tokenizer.
#   - real prose (bench/real_prose.py: installed documentation and Python docstrings, 60 MB) with a
#     32k byte-level BPE trained on it, at --every 128: all text labelled safe (the common case),
#     and labelled by a `hashed` classifier trained on SafetyWorld, which calls most of this prose
#     unsafe (out of domain) — a worst case for the cost of unsafe reflections;
#   - the demo's SafetyWorld at the demo's knobs (--every 24 --safe-rate 0.5 --rationale-rate 0),
#     and at --safe-rate 1 for comparison.
# Usage: bench/reflection_overhead.sh [WORK=/tmp/rsr-bench-overhead]
set -euo pipefail
cd "$(dirname "$0")/.."
WORK=${1:-/tmp/rsr-bench-overhead}
cargo build --release -q -p rsr-cli
R=$PWD/target/release/rsr
mkdir -p "$WORK"
[ -f "$WORK/prose.jsonl" ] || python3 bench/real_prose.py "$WORK/prose.jsonl"
[ -f "$WORK/prose-tok.json" ] || $R tokenizer train --input "$WORK/prose.jsonl" --vocab-size 32000 --out "$WORK/prose-tok.json" >/dev/null
python3 - "$WORK" <<'PY'
import json, sys
w = sys.argv[1]
with open(f"{w}/prose-safe.jsonl", "w") as out:
    for line in open(f"{w}/prose.jsonl"):
        d = json.loads(line); d["label"] = "safe"; out.write(json.dumps(d) + "\n")
PY
[ -f "$WORK/world/world.json" ] || $R gym --out "$WORK/world" --docs 4000 >/dev/null
[ -f "$WORK/world-tok.json" ] || $R tokenizer train --input "$WORK/world" --vocab-size 1024 --out "$WORK/world-tok.json" >/dev/null
[ -f "$WORK/clf.rsrclf" ] || $R classifier train --corpus "$WORK/world" --out "$WORK/clf.rsrclf" >/dev/null
run() { # name, transform args…
  local name=$1; shift
  rm -rf "$WORK/out-$name"
  $R transform --mode rsr --out "$WORK/out-$name" "$@" >/dev/null 2>&1
  python3 - "$WORK/out-$name/manifest.json" "$name" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))["counts"]
print(f"{sys.argv[2]:<40} {c['text_tokens']:>11,} {c['reflections_safe']:>8,} {c['reflections_unsafe']:>8,} {c['inserted_tokens']:>9,} {100*c['token_overhead']:>8.2f}%")
PY
}
printf "%-40s %11s %8s %8s %9s %9s\n" "corpus, knobs" "text tok" "safe" "unsafe" "inserted" "overhead"
run "prose, all safe, every 128" --input "$WORK/prose-safe.jsonl" --label-field label --every 128 --tokenizer "$WORK/prose-tok.json"
run "prose, hashed labels, every 128" --input "$WORK/prose.jsonl" --classifier "$WORK/clf.rsrclf" --every 128 --tokenizer "$WORK/prose-tok.json"
run "world, every 24, safe 0.5 (demo)" --input "$WORK/world" --every 24 --safe-rate 0.5 --rationale-rate 0 --tokenizer "$WORK/world-tok.json"
run "world, every 24, safe 1, rationale 0.05" --input "$WORK/world" --every 24 --tokenizer "$WORK/world-tok.json"
run "world, every 24, format v1" --input "$WORK/world" --every 24 --format v1 --tokenizer "$WORK/world-tok.json"
