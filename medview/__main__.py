"""``python -m medview`` runs the same command as the ``medview`` console script."""

import sys

from medview.app.cli import main

sys.exit(main())
