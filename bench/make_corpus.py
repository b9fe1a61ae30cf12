#!/usr/bin/env python3
"""Write a large JSONL.zst corpus for the pipeline benchmark: the documents of a
SafetyWorld repeated with fresh ids until SIZE_MB of JSON text, split over FILES
files. Usage: make_corpus.py DOCUMENTS.jsonl SIZE_MB OUT_DIR [FILES]"""
import json, os, subprocess, sys

src, size_mb, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
files = int(sys.argv[4]) if len(sys.argv) > 4 else 8
docs = [json.loads(l)["text"] for l in open(src)]
os.makedirs(out, exist_ok=True)
per_file = size_mb * 1_000_000 // files
n = 0
for f in range(files):
    path = os.path.join(out, f"part-{f:03d}.jsonl.zst")
    if os.path.exists(path):
        continue
    z = subprocess.Popen(["zstd", "-q", "-3", "-o", path], stdin=subprocess.PIPE)
    written = 0
    while written < per_file:
        line = (json.dumps({"id": f"f{f}-{n}", "text": docs[n % len(docs)]}) + "\n").encode()
        z.stdin.write(line)
        written += len(line)
        n += 1
    z.stdin.close()
    z.wait()
print(f"{out}: {files} files, {size_mb} MB of JSONL")
