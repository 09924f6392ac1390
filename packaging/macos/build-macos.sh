#!/usr/bin/env bash
# Build medview.app and a .dmg on macOS (not run here: no macOS in this project's CI yet).
#
#   bash packaging/macos/build-macos.sh            # unsigned, for testing
#   MEDVIEW_SIGN_ID="Developer ID Application: ..." MEDVIEW_NOTARY_PROFILE=medview \
#     bash packaging/macos/build-macos.sh          # signed, notarised, stapled
#
# The one-folder bundle from packaging/medview.spec becomes an .app with PyInstaller's
# BUNDLE step (MEDVIEW_MACOS_APP=1 turns it on in the spec). torch on macOS arm64 runs on
# "mps"; the self-test uses the CPU unless --device auto is given.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
MEDVIEW_MACOS_APP=1 bash packaging/build-linux.sh   # the staging and PyInstaller steps are the same
APP="$ROOT/dist/medview.app"
VERSION="$(.venv/bin/python -c 'import medview; print(medview.__version__)')"
if [ -n "${MEDVIEW_SIGN_ID:-}" ]; then
  # Hardened runtime is required for notarisation; torch and VTK need JIT-free defaults only.
  codesign --force --deep --options runtime --timestamp \
    --entitlements packaging/macos/entitlements.plist --sign "$MEDVIEW_SIGN_ID" "$APP"
  codesign --verify --deep --strict --verbose=2 "$APP"
fi
DMG="$ROOT/dist/medview-$VERSION.dmg"
hdiutil create -volname medview -srcfolder "$APP" -ov -format UDZO "$DMG"
if [ -n "${MEDVIEW_NOTARY_PROFILE:-}" ]; then
  codesign --force --sign "$MEDVIEW_SIGN_ID" --timestamp "$DMG"
  xcrun notarytool submit "$DMG" --keychain-profile "$MEDVIEW_NOTARY_PROFILE" --wait
  xcrun stapler staple "$DMG"
fi
"$APP/Contents/MacOS/medview" self-test
echo "== $DMG"
