"""Which device a job runs on: CUDA if there is one, else Apple MPS, else the CPU.

The choice honours, in order: the job's request (``--device`` or the panel), the app setting,
and what the plugin's manifest supports. Probing imports torch, so it happens only when a
plugin that could use a GPU is about to run; a CPU-only plugin never triggers it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence

from medview.core.errors import PluginError

#: What a user may ask for.
REQUESTS = ("auto", "cpu", "cuda", "mps")

_probe_lock = threading.Lock()
_probed: list[str] | None = None


def probe_devices() -> list[str]:
    """Devices present, best first (cached for the process; tests monkeypatch this)."""
    global _probed
    with _probe_lock:
        if _probed is None:
            from medview.ai import torch_backend

            _probed = torch_backend.probe_devices()
        return list(_probed)


def family(device: str) -> str:
    """``"cuda:1"`` -> ``"cuda"``."""
    return device.split(":", 1)[0]


def choose_device(
    requested: str,
    supported: Sequence[str],
    probe: Callable[[], list[str]] | None = None,
) -> str:
    """The device string to run on (``"cuda:0"``, ``"mps"`` or ``"cpu"``).

    Parameters
    ----------
    requested
        ``"auto"``, ``"cpu"``, ``"cuda"``, ``"cuda:N"`` or ``"mps"``.
    supported
        The manifest's device families.
    probe
        Returns the present devices best first; default :func:`probe_devices`.

    Raises
    ------
    PluginError
        The request names a device the plugin does not support or the machine lacks.
    """
    requested = (requested or "auto").strip().lower()
    if requested not in REQUESTS and not requested.startswith("cuda:"):
        raise PluginError(f"unknown device {requested!r}; use auto, cpu, cuda or mps")
    if requested == "cpu" or (requested == "auto" and list(supported) == ["cpu"]):
        if "cpu" not in supported:
            raise PluginError(
                f"this plugin cannot run on the CPU (it supports {', '.join(supported)})"
            )
        return "cpu"  # no probe: keeps torch out of CPU-only runs
    present = (probe or probe_devices)()
    if requested == "auto":
        for device in present:
            if family(device) in supported:
                return device
        raise PluginError(
            f"no supported device here (plugin: {', '.join(supported)}; "
            f"machine: {', '.join(present)})"
        )
    if family(requested) not in supported:
        raise PluginError(
            f"this plugin does not support {requested} (it supports {', '.join(supported)})"
        )
    matches = [
        d for d in present if d == requested or (":" not in requested and family(d) == requested)
    ]
    if not matches:
        raise PluginError(f"device {requested} is not available here (found {', '.join(present)})")
    return matches[0]


def is_gpu(device: str) -> bool:
    """GPU jobs run one at a time per device: two models would fight for its memory."""
    return family(device) in ("cuda", "mps")
