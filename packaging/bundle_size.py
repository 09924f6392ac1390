"""Print a frozen bundle's size and its biggest components.

Usage: python packaging/bundle_size.py dist/medview [--top N]

Components are the top-level entries of ``_internal`` (a package folder such as ``torch``,
or a shared library); sizes are apparent file sizes in MiB.
"""

from __future__ import annotations

import sys
from pathlib import Path


def tree_size(path: Path) -> int:
    if path.is_file() or path.is_symlink():
        return path.lstat().st_size
    return sum(p.lstat().st_size for p in path.rglob("*") if p.is_file() or p.is_symlink())


def main(bundle: Path, top: int = 15) -> int:
    if not bundle.is_dir():
        print(f"no bundle at {bundle}", file=sys.stderr)
        return 1
    total = tree_size(bundle)
    inner = bundle / "_internal"
    parts = sorted(((tree_size(p), p.name) for p in inner.iterdir()), reverse=True)
    print(f"bundle {bundle}: {total / 2**20:.0f} MiB in {sum(1 for _ in bundle.rglob('*'))} files")
    for size, name in parts[:top]:
        print(f"  {size / 2**20:8.1f} MiB  {100 * size / total:5.1f} %  {name}")
    return 0


if __name__ == "__main__":
    args = sys.argv[1:]
    count = int(args[args.index("--top") + 1]) if "--top" in args else 15
    sys.exit(main(Path(args[0]), count))
