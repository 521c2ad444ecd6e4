#!/usr/bin/env bash
# Developer build without installing: compiles nnqs_fast._core (and _cuda with NNQS_CUDA=ON|AUTO) into
# build/dev and copies the modules into python/nnqs_fast/, so `PYTHONPATH=python pytest ...` uses this tree.
# Usage: tools/dev_build.sh [NNQS_CUDA=OFF|AUTO|ON]   (default OFF: fast)
set -euo pipefail
cd "$(dirname "$0")/.."
cuda="${1:-OFF}"
bdir="build/dev-${cuda,,}"
cmake -S . -B "$bdir" -G Ninja -DCMAKE_BUILD_TYPE=Release -DNNQS_CUDA="$cuda" \
  -Dpybind11_DIR="$(python3 -m pybind11 --cmakedir)" -DPython_EXECUTABLE="$(command -v python3)" >/dev/null
cmake --build "$bdir" -j2
# copy then rename: overwriting a loaded .so in place crashes running processes (SIGBUS)
for so in "$bdir"/_core*.so "$bdir"/_cuda*.so; do
  [ -e "$so" ] || continue
  cp "$so" "python/nnqs_fast/.$(basename "$so").tmp" && mv -f "python/nnqs_fast/.$(basename "$so").tmp" "python/nnqs_fast/$(basename "$so")"
done
echo "built: $(ls python/nnqs_fast/*.so | xargs -n1 basename | tr '\n' ' ')"
