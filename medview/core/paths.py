"""Where medview keeps its data, settings, cache and logs.

Everything medview writes lives under the platformdirs directories, or under one folder when
the environment variable ``MEDVIEW_HOME`` is set (tests, scripts and portable installs rely on
it). The user's source DICOM is never written (ARCHITECTURE.md, rule 3).
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

APP_NAME = "medview"
HOME_ENV = "MEDVIEW_HOME"


@dataclass(frozen=True)
class AppDirs:
    data: Path
    config: Path
    cache: Path
    logs: Path

    @property
    def database(self) -> Path:
        return self.data / "studies.sqlite"

    @property
    def store(self) -> Path:
        """Managed copy store (import --copy, files extracted from zip archives)."""
        return self.data / "store"

    @property
    def plugins(self) -> Path:
        return self.data / "plugins"

    def ensure(self) -> AppDirs:
        for path in (self.data, self.config, self.cache, self.logs):
            path.mkdir(parents=True, exist_ok=True)
        return self


def app_dirs() -> AppDirs:
    """The directories for this process, honouring ``MEDVIEW_HOME``."""
    home = os.environ.get(HOME_ENV)
    if home:
        root = Path(home).expanduser().resolve()
        return AppDirs(root / "data", root / "config", root / "cache", root / "logs")
    import platformdirs

    dirs = platformdirs.PlatformDirs(APP_NAME, appauthor=False)
    return AppDirs(
        Path(dirs.user_data_dir),
        Path(dirs.user_config_dir),
        Path(dirs.user_cache_dir),
        Path(dirs.user_log_dir),
    )


def atomic_write_bytes(target: Path, payload: bytes) -> None:
    """Write ``payload`` to ``target`` so that readers see the old file or the whole new one.

    Temp file in the same directory, fsync, then rename: a crash never leaves half a file.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(payload)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_text(target: Path, text: str) -> None:
    atomic_write_bytes(target, text.encode("utf-8"))
