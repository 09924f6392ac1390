#!/usr/bin/env bash
# Build the one-folder frozen medview into dist/medview/ (PyInstaller), from a checkout.
#
#   bash packaging/build-linux.sh            # uses .venv (created by packaging/setup.sh if missing)
#   bash packaging/build-linux.sh --deb      # also dist/medview_<version>_<arch>.deb
#
# Prints the bundle size and its biggest components. Then: xvfb-run -a dist/medview/medview self-test --gui
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PY="${MEDVIEW_PYTHON:-$ROOT/.venv/bin/python}"
MAKE_DEB=0
STRIP=1
for arg in "$@"; do
  case "$arg" in
    --deb) MAKE_DEB=1 ;;
    --no-strip) STRIP=0 ;;
    *) echo "usage: $0 [--deb] [--no-strip]" >&2; exit 2 ;;
  esac
done

if [ ! -x "$PY" ]; then
  echo "== no .venv: creating it with packaging/setup.sh"
  bash packaging/setup.sh
fi
# PyInstaller is a build tool, not a dependency of medview: installed here, on demand.
if ! "$PY" -c "import PyInstaller" 2>/dev/null; then
  echo "== installing PyInstaller into the build environment"
  "$PY" -m pip install --quiet "pyinstaller>=6"
fi
"$PY" -c "import medview, importlib.metadata as m; m.version('medview')" \
  || { echo "medview is not installed in $PY's environment (run packaging/setup.sh)" >&2; exit 1; }

STAGE="$ROOT/build/stage"
START=$(date +%s)
echo "== staging sources into $STAGE"
rm -rf "$STAGE"
mkdir -p "$STAGE"
# The wheel's layout: medview/ and plugins/ as the package medview_plugins (pyproject.toml).
cp -r medview "$STAGE/medview"
cp -r plugins "$STAGE/medview_plugins"
find "$STAGE" -name __pycache__ -type d -prune -exec rm -rf {} +
"$PY" packaging/collect_licenses.py "$STAGE/licenses"

echo "== PyInstaller"
# Run from build/: the current folder is on the import path of the build, and a stray
# medview.egg-info in the checkout (left by a setuptools build) would be bundled as medview's
# metadata instead of the installed one.
(cd "$ROOT/build" && MEDVIEW_STAGE="$STAGE" "$PY" -m PyInstaller --noconfirm --clean \
  --workpath "$ROOT/build/pyinstaller" --distpath "$ROOT/dist" "$ROOT/packaging/medview.spec")
if [ "$STRIP" = 1 ] && command -v strip >/dev/null; then
  # Symbol tables of torch's and VTK's libraries: 172 MiB of the bundle, not needed to run
  # (measured 1556 -> 1384 MiB; the frozen self-test passes stripped). Only these two: the
  # auditwheel-patched libraries in *.libs folders (numpy's OpenBLAS, ...) break when
  # stripped ("ELF load command address/offset not page-aligned").
  echo "== stripping symbol tables of torch/lib and vtkmodules"
  find "$ROOT/dist/medview/_internal/torch/lib" "$ROOT/dist/medview/_internal/vtkmodules" \
    -type f \( -name "*.so" -o -name "*.so.*" \) -print0 | xargs -0 -r -n 20 strip --strip-unneeded
fi
END=$(date +%s)
echo "== built dist/medview in $((END - START)) s"

"$PY" packaging/bundle_size.py "$ROOT/dist/medview"

if [ "$MAKE_DEB" = 1 ]; then
  bash packaging/linux/make-deb.sh
fi
