"""Fail when `rsr-py` resolves a dependency it shares with `rsr-cli`, or with the workspace's test
build, with other features.

A crate built with other features is another artefact, so `pip install .` (maturin builds
rsr-py alone) after `cargo build --release -p rsr-cli` — or, in .ci/run, on the test build of
`cargo test --workspace` — would compile the stack above it again. crates/workspace-hack asks for
the union; this names any crate that drifted, with the features to add there.

usage: python3 .ci/unified_features.py
"""
import subprocess
import sys


def features(*selection, edges="normal,build"):
    out = subprocess.run(
        ["cargo", "tree", "--locked", *selection, "-e", edges, "--prefix", "none", "-f", "{p}|{f}"],
        check=True, capture_output=True, text=True,
    ).stdout
    seen = {}
    for line in out.splitlines():
        if "|" not in line:
            continue
        pkg, feats = line.split("|", 1)
        name_version = " ".join(pkg.split()[:2])  # "tokio v1.54.1", the path of a local crate dropped
        seen.setdefault(name_version, set()).add(feats.replace(" (*)", "").replace(" (proc-macro)", "").strip())
    return seen


py = features("-p", "rsr-py")
builds = [("rsr-cli", features("-p", "rsr-cli")),
          ("the test build", features("--workspace", edges="normal,build,dev"))]
drifted = 0
for name, other in builds:
    shared = sorted(set(other) & set(py))
    drift = [k for k in shared if other[k] != py[k]]
    for k in drift:
        print(f"{k}: {name} builds it with {sorted(other[k])}, rsr-py with {sorted(py[k])}", file=sys.stderr)
    drifted += len(drift)
    if not drift:
        print(f"rsr-py and {name} resolve all {len(shared)} shared crates with the same features")
if drifted:
    sys.exit(f"{drifted} shared crates differ in features: add the union to crates/workspace-hack/Cargo.toml "
             "([build-dependencies] for proc macros' dependencies such as syn)")
