"""Child process for R5: import paths while recording every file Python opens.

``python audit_opens.py PATH...`` imports PATHs into the database under ``MEDVIEW_HOME``
(``import_paths``, as ``medview import``) with a ``sys.addaudithook`` hook on the ``open``
event (PEP 578: builtins.open, io.open, os.open all raise it) and prints the opened paths as
one JSON list. A child, because audit hooks cannot be removed once added.
"""

from __future__ import annotations

import json
import os
import sys

opened: list[str] = []


def _hook(event: str, args: tuple) -> None:
    if event == "open" and args and isinstance(args[0], str | bytes | os.PathLike):
        path = os.fsdecode(args[0])
        opened.append(os.path.realpath(path))


def main(paths: list[str]) -> None:
    from medview.core.errors import MedviewError
    from medview.core.paths import app_dirs
    from medview.dicom.importer import import_paths
    from medview.dicom.index import StudyDatabase

    dirs = app_dirs()
    database = StudyDatabase(dirs.database)
    sys.addaudithook(_hook)
    try:
        summary = import_paths(paths, database, copy=True, dirs=dirs, workers=1)
        result = {"added": summary.instances_added, "errors": summary.errors}
    except MedviewError as exc:
        result = {"added": 0, "errors": [[str(exc.path), exc.reason]]}
    finally:
        database.close()
    print(json.dumps({"opened": sorted(set(opened)), **result}))


if __name__ == "__main__":
    main(sys.argv[1:])
