"""Entry point of the frozen medview (PyInstaller runs this file as ``__main__``)."""

import multiprocessing
import sys

if __name__ == "__main__":
    # The DICOM loader decodes JPEG 2000 in worker processes; in a frozen app each worker
    # re-runs this executable, and freeze_support() turns it into the worker instead of a
    # second medview.
    multiprocessing.freeze_support()
    from medview.app.cli import main

    sys.exit(main())
