#!/usr/bin/env python3
"""Build a corpus of real English prose from what this machine has installed, as rsr documents.

    python3 bench/real_prose.py OUT.jsonl [--max-mb 60]

Sources: the operating system's installed documentation (/usr/share/doc: READMEs, changelogs,
copyright texts, plain or gzipped) and the docstrings of Python's standard library. Each file or
module becomes documents of 1-20 KB (longer texts are cut at paragraph breaks). Nothing is
downloaded; the same machine gives the same corpus. Used by the throughput and reflection
overhead benchmarks, which need real text rather than repeated synthetic documents.
"""
import argparse, ast, gzip, json, os, sys, sysconfig

MIN, MAX = 1_000, 20_000


def docs_from_text(text):
    text = text.replace("\r\n", "\n").strip()
    while len(text) >= MIN:
        if len(text) <= MAX:
            yield text
            return
        cut = text.rfind("\n\n", MIN, MAX)
        cut = cut if cut > 0 else MAX
        yield text[:cut].strip()
        text = text[cut:].strip()


def os_docs():
    for root, _, files in sorted(os.walk("/usr/share/doc")):
        for f in sorted(files):
            p = os.path.join(root, f)
            if os.path.islink(p):
                continue
            try:
                raw = gzip.open(p).read() if f.endswith(".gz") else open(p, "rb").read()
                text = raw.decode("utf-8")
            except (OSError, UnicodeDecodeError, EOFError):
                continue
            if "\x00" in text or f.endswith((".html", ".css", ".js", ".png", ".svg")):
                continue
            yield p, text


def docstrings():
    stdlib = sysconfig.get_paths()["stdlib"]
    for root, dirs, files in sorted(os.walk(stdlib)):
        dirs[:] = sorted(d for d in dirs if d not in ("test", "tests", "site-packages", "idle_test"))
        for f in sorted(files):
            if not f.endswith(".py"):
                continue
            p = os.path.join(root, f)
            try:
                tree = ast.parse(open(p, encoding="utf-8").read())
            except (SyntaxError, UnicodeDecodeError, ValueError):
                continue
            parts = [ast.get_docstring(n) for n in ast.walk(tree)
                     if isinstance(n, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))]
            yield p, "\n\n".join(d for d in parts if d)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out")
    ap.add_argument("--max-mb", type=float, default=60)
    a = ap.parse_args()
    limit, total, n, seen = a.max_mb * 1e6, 0, 0, set()
    tmp = a.out + ".tmp"
    with open(tmp, "w") as out:
        for source in (os_docs(), docstrings()):
            for path, text in source:
                for i, d in enumerate(docs_from_text(text)):
                    h = hash(d)
                    if h in seen:  # licences repeat across packages: keep one copy
                        continue
                    seen.add(h)
                    out.write(json.dumps({"id": f"{path}#{i}", "text": d}) + "\n")
                    total += len(d.encode())
                    n += 1
                    if total >= limit:
                        break
                if total >= limit:
                    break
    os.replace(tmp, a.out)
    print(f"wrote {a.out}: {n} documents, {total / 1e6:.1f} MB", file=sys.stderr)


if __name__ == "__main__":
    main()
