"""Worker process for the load-path fuzzer (tests/reliability/test_r3_load_fuzz.py).

Reads one file path per line on stdin, runs it through what ``medview info --load`` does
(scan + header, series grouping, pixel decode, Volume build) and answers one JSON line:
``{"outcome": "ok" | "refused" | "escaped", "detail": ..., "seconds": ..., "maxrss_kib": ...}``.
A fresh interpreter (not a fork of pytest) so that its peak RSS is medview's, not the test
runner's; the parent kills it when an input takes too long and starts another.
"""

from __future__ import annotations

import json
import resource
import sys
import time
import traceback
from pathlib import Path


def _one(path: str) -> dict:
    from medview.core.errors import MedviewError
    from medview.dicom.info import describe

    name = Path(path).name
    started = time.perf_counter()
    try:
        report = describe([path], load=True, workers=1)
    except MedviewError as exc:
        message = str(exc)
        outcome = "refused"
        # The boundary's promise (ARCHITECTURE rule 5): one line naming the file.
        if "\n" in message or name not in message:
            outcome, message = "bad-message", message
        detail = message
    except BaseException as exc:  # the finding this fuzzer exists for
        outcome = "escaped"
        detail = f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=12)}"
    else:
        outcome, detail = "ok", ""
        for patient in report["patients"]:
            for study in patient["studies"]:
                for series in study["series"]:
                    for volume in series["volumes"]:
                        error = volume.get("load_error", "")
                        if error and ("\n" in error or name not in error):
                            outcome, detail = "bad-message", error
                        elif error:
                            outcome, detail = "refused", error
        if report["errors"] and outcome == "ok":
            outcome, detail = "refused", report["errors"][0]["reason"]
    return {
        "outcome": outcome,
        "detail": detail[:2000],
        "seconds": time.perf_counter() - started,
        "maxrss_kib": _peak_kib(),
    }


def _peak_kib() -> int:
    """This process's peak RSS since its exec (VmHWM). Not ``ru_maxrss``: Linux carries the
    peak of the process we were forked from (pytest, GiBs late in a full run) across exec."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def main() -> None:
    # Import everything once, before the first input, so no input pays for it.
    import medview.dicom.info
    import medview.dicom.loader  # noqa: F401

    sys.stdout.write(json.dumps({"ready": True}) + "\n")
    sys.stdout.flush()
    for line in sys.stdin:
        path = line.strip()
        if not path:
            continue
        sys.stdout.write(json.dumps(_one(path)) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
