"""Fail when `rsr-cli` and `rsr-py` resolve a shared dependency with different features.

A crate built with other features is another artefact, so `pip install .` (maturin builds
rsr-py alone) after `cargo build --release -p rsr-cli` would compile the stack above it again.
crates/workspace-hack asks for the union; this names any crate that drifted, with the features
to add there.

usage: python3 .ci/unified_features.py
"""
import subprocess
import sys


def features(package):
    out = subprocess.run(
        ["cargo", "tree", "--locked", "-p", package, "-e", "normal,build", "--prefix", "none", "-f", "{p}|{f}"],
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


cli, py = features("rsr-cli"), features("rsr-py")
shared = sorted(set(cli) & set(py))
drift = [k for k in shared if cli[k] != py[k]]
for k in drift:
    print(f"{k}: rsr-cli builds it with {sorted(cli[k])}, rsr-py with {sorted(py[k])}", file=sys.stderr)
if drift:
    sys.exit(f"{len(drift)} of {len(shared)} shared crates differ in features: add the union to "
             "crates/workspace-hack/Cargo.toml ([build-dependencies] for proc macros' dependencies such as syn)")
print(f"rsr-cli and rsr-py resolve all {len(shared)} shared crates with the same features")
