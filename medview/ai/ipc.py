"""Messages between medview and an isolated plugin process, big arrays out of band.

A 512 x 512 x 300 float32 volume is 300 MB: pickled through a pipe it is copied four times
(pickle, pipe, unpickle, and the peak of both copies in each process). Here every array of at
least :data:`INLINE_MAX` bytes is written once into a file in RAM (``/dev/shm`` when it has
room, else the temp folder) and only its name, dtype and shape travel in the pickle. The
receiver maps the file read-only (the plugin's input: zero copies) or reads it into its own
memory and deletes it (results coming back to medview).

Messages from the plugin process are not trusted like messages from medview: they are
unpickled with an allow-list of classes (numpy arrays and scalars, the contract's result
types, plain containers), at most :data:`MAX_MESSAGE` bytes, and array files are accepted
only under the names this transfer gave out.
"""

from __future__ import annotations

import io
import mmap
import os
import pickle
import re
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

#: Arrays smaller than this travel inside the pickle (a file costs more than it saves).
INLINE_MAX = 1 << 20
#: The largest pickle accepted from a plugin process (arrays travel beside it).
MAX_MESSAGE = 64 << 20
#: File name prefix of every array file (swept after a crash, see :func:`sweep`).
PREFIX = "medview-ipc-"

_SHM = Path("/dev/shm")

# What a plugin process may send back: the contract's result types, numpy, plain data.
_ALLOWED = {
    "medview.ai.api": {"Result", "Finding", "Overlay"},
    "medview.imaging.volume": {"Volume", "VolumeMeta", "WindowPreset"},
    "numpy": {"dtype", "ndarray"},
    "numpy._core.multiarray": {"_reconstruct", "scalar"},
    "numpy.core.multiarray": {"_reconstruct", "scalar"},
    "numpy._core.numeric": {"_frombuffer"},
    "numpy.core.numeric": {"_frombuffer"},
    "builtins": {"set", "frozenset", "complex", "slice", "range", "bytearray"},
    "collections": {"OrderedDict"},
    "datetime": {"date", "datetime", "time", "timedelta", "timezone"},
    "pathlib": {"Path", "PosixPath", "WindowsPath", "PurePosixPath", "PureWindowsPath"},
}


class Transfer:
    """Array files of one parent/child pair: ``<folder>/medview-ipc-<parent pid>-<token>-N``.

    Parameters
    ----------
    token
        Unique per plugin process; names of its files start with ``PREFIX<pid>-<token>-``.
    parent_pid
        medview's process id (the child passes its parent's), used by :func:`sweep`.
    """

    def __init__(self, token: str, parent_pid: int | None = None) -> None:
        self.stem = f"{PREFIX}{parent_pid or os.getpid()}-{token}-"
        self.folders = [f for f in (_SHM, Path(tempfile.gettempdir())) if f.is_dir()]
        self._count = 0
        self._name = re.compile(re.escape(self.stem) + r"[io]\d+")

    # -- writing -------------------------------------------------------------------------
    def write(self, array: np.ndarray, kind: str) -> tuple[int, str]:
        """Write ``array``'s bytes (C order) into a new file: ``(folder index, name)``.

        ``write()``, not a writable map: it copies in one pass without a page fault per
        page, and a full ``/dev/shm`` fails with ENOSPC (then the temp folder is tried)
        where a map would kill the writer with SIGBUS.
        """
        self._count += 1
        name = f"{self.stem}{kind}{self._count}"
        data = memoryview(np.ascontiguousarray(array)).cast("B")
        last: OSError | None = None
        for index, folder in enumerate(self.folders):
            path = folder / name
            try:
                with open(path, "xb") as handle:
                    os.chmod(path, 0o600)
                    handle.write(data)
                return index, name
            except OSError as exc:
                last = exc
                path.unlink(missing_ok=True)
        raise OSError(f"no room to pass an array of {array.nbytes} bytes: {last}")

    def path(self, folder: int, name: str) -> Path:
        if not (0 <= folder < len(self.folders)) or not self._name.fullmatch(name):
            raise pickle.UnpicklingError(f"unexpected array file name {name!r}")
        return self.folders[folder] / name

    def remove_all(self) -> None:
        """Delete every file of this pair left behind (a process killed mid-transfer)."""
        for folder in self.folders:
            for entry in _entries(folder):
                if entry.startswith(self.stem):
                    (folder / entry).unlink(missing_ok=True)

    # -- pickling --------------------------------------------------------------------------
    def dumps(self, obj: Any, kind: str, written: list[Path] | None = None) -> bytes:
        """Pickle ``obj``, big arrays into files (their paths appended to ``written``)."""
        buffer = io.BytesIO()
        pickler = pickle.Pickler(buffer, protocol=5)
        transfer = self

        def persistent_id(value: Any) -> Any:
            if (
                type(value) in (np.ndarray, np.memmap)
                and value.nbytes >= INLINE_MAX
                and not value.dtype.hasobject
            ):
                folder, name = transfer.write(value, kind)
                if written is not None:
                    written.append(transfer.folders[folder] / name)
                return ("ndarray", folder, name, value.dtype.str, tuple(value.shape))
            return None

        pickler.persistent_id = persistent_id  # type: ignore[method-assign]
        try:
            pickler.dump(obj)
        except BaseException:
            if written is not None:
                for path in written:
                    path.unlink(missing_ok=True)
            raise
        return buffer.getvalue()

    def loads_trusted(self, payload: bytes, keep: list[mmap.mmap]) -> Any:
        """Unpickle a message from medview; arrays are read-only maps (kept in ``keep``)."""

        transfer = self

        class _Unpickler(pickle.Unpickler):
            def persistent_load(self, pid: Any) -> Any:
                path = transfer.path(pid[1], pid[2])
                dtype, shape = np.dtype(pid[3]), tuple(pid[4])
                with open(path, "rb") as handle:
                    if os.name == "posix":
                        # Populated up front: one call instead of a page fault per 4 KiB.
                        flags = mmap.MAP_SHARED | getattr(mmap, "MAP_POPULATE", 0)
                        mapped = mmap.mmap(handle.fileno(), 0, flags=flags, prot=mmap.PROT_READ)
                    else:  # pragma: no cover
                        mapped = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
                keep.append(mapped)
                return np.frombuffer(mapped, dtype=dtype).reshape(shape)

        return _Unpickler(io.BytesIO(payload)).load()

    def loads_untrusted(self, payload: bytes) -> Any:
        """Unpickle a message from the plugin process: allow-listed classes only; arrays are
        read into this process's memory and their files deleted."""
        transfer = self

        class _Unpickler(pickle.Unpickler):
            def find_class(self, module: str, name: str) -> Any:
                if name in _ALLOWED.get(module, ()):
                    return super().find_class(module, name)
                raise pickle.UnpicklingError(
                    f"a plugin process may not send {module}.{name} (plain data and medview "
                    "result types only)"
                )

            def persistent_load(self, pid: Any) -> Any:
                if not (isinstance(pid, tuple) and len(pid) == 5 and pid[0] == "ndarray"):
                    raise pickle.UnpicklingError("unexpected out-of-band object")
                path = transfer.path(pid[1], pid[2])
                dtype = np.dtype(pid[3])
                shape = tuple(int(n) for n in pid[4])
                try:
                    if dtype.hasobject or any(n < 0 for n in shape):
                        raise pickle.UnpicklingError(f"unexpected array {dtype} {shape}")
                    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
                    if path.stat().st_size != expected:
                        raise pickle.UnpicklingError(f"array file {path.name} has a wrong size")
                    return np.fromfile(path, dtype=dtype).reshape(shape)
                finally:
                    path.unlink(missing_ok=True)

        return _Unpickler(io.BytesIO(payload)).load()


def _entries(folder: Path) -> Iterable[str]:
    try:
        return [e.name for e in os.scandir(folder) if e.name.startswith(PREFIX)]
    except OSError:
        return []


def sweep() -> int:
    """Delete array files left by medview processes that no longer run (a crash, kill -9);
    returns how many. Files of live processes are left alone."""
    removed = 0
    for folder in (_SHM, Path(tempfile.gettempdir())):
        for entry in _entries(folder):
            pid_text = entry[len(PREFIX) :].split("-", 1)[0]
            if not pid_text.isdigit() or _alive(int(pid_text)):
                continue
            try:
                (folder / entry).unlink()
                removed += 1
            except OSError:
                pass
    return removed


def _alive(pid: int) -> bool:
    if os.name != "posix":  # os.kill(pid, 0) would terminate the process on Windows
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # exists, owned by someone else
        return True
    return True
