#!/usr/bin/env bash
# Creates .venv in the repository root and installs medview with its dev extra.
# torch is installed first and pinned: on the reference machines 2.13.0 is a CPU wheel
# already on disk; an unpinned torch would pull a multi-GB CUDA build. Users with a GPU
# can install their CUDA build of torch into the venv first; the project accepts >=2.2,<3.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$here"
python="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
    "$python" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
if ! .venv/bin/python -c "import torch" 2>/dev/null; then
    .venv/bin/python -m pip install --quiet "torch==${MEDVIEW_TORCH_VERSION:-2.13.0}"
fi
.venv/bin/python -m pip install --quiet -e ".[dev]"
echo "medview installed in $here/.venv"
