"""Copy the licence files of the distributions a frozen medview bundles into one folder.

Usage: python packaging/collect_licenses.py OUT_DIR

For every installed distribution except development tools, the files its metadata lists
as licences (``License-File``, or LICENSE/COPYING/NOTICE files in its dist-info) go to
``OUT_DIR/<name>-<version>/`` and a line to ``OUT_DIR/THIRD-PARTY.txt`` (name, version,
licence expression). Distributions that ship no licence file are listed as such, so the
gap is visible rather than silent.
"""

from __future__ import annotations

import shutil
import sys
from importlib import metadata
from pathlib import Path

#: Installed for development or building only; not in the bundle.
# fmt: off
DEV_ONLY = {
    "pip", "setuptools", "wheel", "pyinstaller", "pyinstaller-hooks-contrib", "altgraph",
    "pytest", "pytest-qt", "pytest-xvfb", "pytest-timeout", "pluggy", "iniconfig",
    "hypothesis", "ruff", "import-linter", "grimp", "pymupdf", "scikit-image", "scipy",
    "imageio", "tifffile", "lazy-loader", "networkx", "pyvirtualdisplay", "sortedcontainers",
    "attrs", "click", "rich", "markdown-it-py", "mdurl", "pygments", "medview",
}
# fmt: on
LICENCE_WORDS = ("LICEN", "COPYING", "NOTICE", "AUTHORS")


def main(out: Path) -> int:
    out.mkdir(parents=True, exist_ok=True)
    lines = []
    for dist in sorted(metadata.distributions(), key=lambda d: d.metadata["Name"].lower()):
        name = dist.metadata["Name"]
        if name.lower().replace("_", "-") in DEV_ONLY:
            continue
        version = dist.version
        expression = dist.metadata.get("License-Expression") or dist.metadata.get("License") or ""
        expression = expression.splitlines()[0][:80] if expression else "see files"
        copied = 0
        for file in dist.files or []:
            if not any(w in file.name.upper() for w in LICENCE_WORDS):
                continue
            if ".dist-info" not in str(file) and "licenses" not in str(file).lower():
                continue
            source = Path(dist.locate_file(file))
            if source.is_file():
                target = out / f"{name}-{version}" / file.name
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(source, target)
                copied += 1
        state = f"{copied} file(s)" if copied else "NO LICENCE FILE SHIPPED"
        lines.append(f"{name} {version}: {expression} ({state})")
    (out / "THIRD-PARTY.txt").write_text(
        "Third-party components bundled with medview (from their package metadata).\n\n"
        + "\n".join(lines)
        + "\n",
        encoding="utf-8",
    )
    print(f"licences of {len(lines)} distribution(s) in {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1])))
