"""Generate (and cache) the canonical scans: ``python -m ... make_cache START STOP [STEP]``."""

from __future__ import annotations

import sys
import time

from .data import canonical_scan


def main(argv: list[str]) -> None:
    start, stop = int(argv[0]), int(argv[1])
    step = int(argv[2]) if len(argv) > 2 else 1
    for seed in range(start, stop, step):
        t = time.time()
        scan = canonical_scan(seed)
        print(f"scan {seed}: {scan['hu'].shape} {len(scan['diameters'])} nodules "
              f"{time.time() - t:.1f} s", flush=True)  # fmt: skip


if __name__ == "__main__":
    main(sys.argv[1:])
