#!/usr/bin/env bash
# Build rsr's CUDA path (`--features cuda`) on a machine with no CUDA toolkit and no GPU, from
# NVIDIA's PyPI wheels alone: nvcc, the headers, and the libraries candle links (cuBLAS, cuRAND,
# NVRTC, the runtime). The driver library (libcuda.so.1) ships only with the driver, so the link
# uses a stub of its symbols (what the toolkit's lib/stubs holds); the real one is found on the GPU
# machine at run time.
#
#   bench/cuda_toolkit_from_pip.sh /opt/cuda-pip 13.0 90    # DIR, CUDA version, compute capability
#   . /opt/cuda-pip/env.sh
#   cargo build --release --locked -p rsr-cli --features cuda        # 18 min on 2 busy cores
#   cargo test --release --locked -p rsr-candle --features cuda --no-run
#
# On the GPU machine: LD_LIBRARY_PATH must reach libcudart.so.13, libcublas(Lt).so.13,
# libnvrtc.so.13 and libcurand.so.10 (a PyTorch cu13x install has them under
# site-packages/nvidia/cu13/lib). CUDA 13 needs a driver >= 580. Use 12.x wheels (the `-cu12`
# package names) for an older driver; the version of the wheels is the version the binary needs.
set -euo pipefail
dir=${1:?usage: cuda_toolkit_from_pip.sh DIR [CUDA_VERSION] [COMPUTE_CAP]}
ver=${2:-13.0}
cap=${3:-90}
mkdir -p "$dir/wheels"
pip download --no-deps -q -d "$dir/wheels" \
  "nvidia-cuda-nvcc==$ver.*" "nvidia-cuda-runtime==$ver.*" "nvidia-cuda-nvrtc==$ver.*" \
  "nvidia-cuda-crt==$ver.*" "nvidia-cuda-cccl==$ver.*" "nvidia-nvvm==$ver.*" \
  "nvidia-cublas==${ver%%.*}.*" "nvidia-curand==10.*"
for w in "$dir"/wheels/*.whl; do python3 -m zipfile -e "$w" "$dir/x"; done
root=$(dirname "$(find "$dir/x" -path '*/bin/nvcc' | head -1)")/..
root=$(cd "$root" && pwd)
chmod +x "$root"/bin/* "$root"/nvvm/bin/*
# Unversioned names for the linker.
for so in "$root"/lib/lib*.so.*; do
  base=$(basename "$so"); stem=${base%%.so.*}
  [ -e "$root/lib/$stem.so" ] || ln -s "$base" "$root/lib/$stem.so"
done
# A stub libcuda.so: every driver entry point cudarc declares, as an empty function.
cudarc=$(find "${CARGO_HOME:-$HOME/.cargo}/registry/src" -maxdepth 2 -name "cudarc-*" | sort -V | tail -1)
if [ -z "$cudarc" ]; then echo "no cudarc sources: run 'cargo fetch --locked' in the rsr checkout first" >&2; exit 1; fi
mkdir -p "$root/lib/stubs"
grep -ohE '\bfn cu[A-Za-z0-9_]+\(' "$cudarc/src/driver/sys/mod.rs" | sed 's/fn //;s/(//' | sort -u |
  awk '{print "void "$1"(void){}"}' > "$dir/libcuda_stub.c"
cc -shared -fPIC -o "$root/lib/stubs/libcuda.so" -Wl,-soname,libcuda.so.1 "$dir/libcuda_stub.c"
cat > "$dir/env.sh" <<EOF
export CUDA_ROOT=$root CUDA_PATH=$root CUDA_HOME=$root
export PATH=$root/bin:\$PATH
export CUDA_COMPUTE_CAP=$cap
export LIBRARY_PATH=$root/lib:$root/lib/stubs\${LIBRARY_PATH:+:\$LIBRARY_PATH}
EOF
echo "CUDA $ver from pip in $root; now: . $dir/env.sh"
