#!/usr/bin/env bash
# Wrap dist/medview (from packaging/build-linux.sh) into dist/medview_<version>_<arch>.deb.
#
# Installs to /opt/medview with /usr/bin/medview and a desktop entry. dpkg-deb only: no
# debhelper, no network. The shared libraries the bundle expects from the system (X11/xcb,
# OpenGL, fontconfig) are declared as Depends, as Debian 12 names them.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
BUNDLE="$ROOT/dist/medview"
[ -x "$BUNDLE/medview" ] || { echo "no $BUNDLE/medview: run packaging/build-linux.sh first" >&2; exit 1; }
VERSION="$("$ROOT/.venv/bin/python" -c 'import medview; print(medview.__version__)')"
ARCH="$(dpkg --print-architecture)"
PKG="$ROOT/build/deb/medview_${VERSION}_${ARCH}"
rm -rf "$PKG"
mkdir -p "$PKG/DEBIAN" "$PKG/opt" "$PKG/usr/bin" "$PKG/usr/share/applications"
cp -a "$BUNDLE" "$PKG/opt/medview"
ln -s /opt/medview/medview "$PKG/usr/bin/medview"
cat > "$PKG/usr/share/applications/medview.desktop" <<DESKTOP
[Desktop Entry]
Type=Application
Name=medview
Comment=Radiology workstation with embedded AI (research use, not for diagnosis)
Exec=/opt/medview/medview %F
Terminal=false
Categories=Graphics;MedicalSoftware;Science;
DESKTOP
SIZE_KB="$(du -sk "$PKG/opt" | cut -f1)"
cat > "$PKG/DEBIAN/control" <<CONTROL
Package: medview
Version: $VERSION
Architecture: $ARCH
Maintainer: medview developers <medview@invalid>
Installed-Size: $SIZE_KB
Depends: libc6 (>= 2.31), libgl1, libegl1, libfontconfig1, libxkbcommon-x11-0, libxcb-cursor0, libxcb-icccm4, libxcb-keysyms1, libxcb-shape0, libxcb-xinerama0, libxcb-randr0, libxcb-render-util0, libxcb-image0, libdbus-1-3
Section: science
Priority: optional
Description: radiology workstation with embedded AI (research use only)
 DICOM viewer with MPR and 3D views, AI plugins (lung-nodule detection,
 super-resolution, saliency explanations) and structured reports (DICOM SR,
 SEG, PDF, JSON). Not a medical device; not for diagnostic use. Works offline:
 no network access unless a PACS node is configured, no telemetry.
 After installing, run: medview self-test
CONTROL
OUT="$ROOT/dist/medview_${VERSION}_${ARCH}.deb"
# zstd: fast to build and to install (dpkg >= 1.21.18: Debian 12, Ubuntu 22.04); -Zxz is smaller, slower.
dpkg-deb --root-owner-group -Zzstd --build "$PKG" "$OUT"
echo "== $(du -h "$OUT" | cut -f1) $OUT"
