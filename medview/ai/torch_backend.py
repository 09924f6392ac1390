"""The only medview module that imports torch (ARCHITECTURE.md rule 1).

torch is imported inside the functions, never at module import: listing plugins and running
a CPU plugin that does not use torch must not pay torch's start-up (1-2 s, hundreds of MB).
Helpers here: the device probe (CUDA, then Apple MPS, then CPU), safe weight loading
(safetensors, or ``torch.load(weights_only=True)``: never unpickling arbitrary objects),
autocast, freeing device memory and recognising out-of-memory errors.
"""

from __future__ import annotations

import contextlib
import io
import sys
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path
from typing import Any

from medview.core.errors import WeightsError


def torch_version() -> str:
    """The installed torch version, read from package metadata (does not import torch)."""
    try:
        return metadata.version("torch")
    except metadata.PackageNotFoundError:
        return ""


def probe_devices() -> list[str]:
    """Devices torch can use here, best first: ``cuda:N``..., ``mps``, then ``cpu``."""
    try:
        import torch
    except ImportError:
        return ["cpu"]
    found = []
    if torch.cuda.is_available():
        found += [f"cuda:{n}" for n in range(torch.cuda.device_count())]
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        found.append("mps")
    return [*found, "cpu"]


def load_state_dict(
    path: Path, payload: bytes | None = None, device: str = "cpu"
) -> dict[str, Any]:
    """Tensors from a weights file, loaded without executing code from it.

    Parameters
    ----------
    path
        ``.safetensors`` (preferred) or a torch ``.pt``/``.pth`` state dict.
    payload
        The file's bytes, already SHA-256 verified by the caller; read from ``path`` if None.
    device
        Where the tensors go.

    Raises
    ------
    WeightsError
        The file is not a plain tensor state dict (``weights_only`` refuses pickled objects).
    """
    data = Path(path).read_bytes() if payload is None else payload
    try:
        if Path(path).suffix == ".safetensors":
            from safetensors.torch import load as load_safetensors

            tensors = load_safetensors(data)
            return {name: tensor.to(device) for name, tensor in tensors.items()}
        import torch

        # weights_only=True: the unpickler accepts tensors and plain containers only.
        loaded = torch.load(io.BytesIO(data), map_location=device, weights_only=True)
    except Exception as exc:
        raise WeightsError(
            f"cannot load weights safely ({type(exc).__name__}: {exc})", path
        ) from None
    if not isinstance(loaded, dict):
        raise WeightsError("weights file is not a state dict", path)
    return loaded


def autocast(device: str, enabled: bool = True) -> contextlib.AbstractContextManager:
    """Mixed precision on CUDA (float16) when ``enabled``; a no-op elsewhere.

    MPS and CPU autocast change numerics more than they save time for 3D models here, so
    only CUDA gets it.
    """
    if not enabled or not device.startswith("cuda"):
        return contextlib.nullcontext()
    import torch

    return torch.autocast(device_type="cuda", dtype=torch.float16)


def empty_cache(device: str) -> None:
    """Give cached device memory back after ``release()`` (no-op if torch is not loaded)."""
    torch = sys.modules.get("torch")
    if torch is None:
        return
    if device.startswith("cuda") and torch.cuda.is_available():
        torch.cuda.empty_cache()
    elif device == "mps" and hasattr(torch, "mps"):
        with contextlib.suppress(Exception):
            torch.mps.empty_cache()


def is_out_of_memory(exc: BaseException) -> bool:
    """True for a device out-of-memory error (CUDA or MPS), without importing torch."""
    torch = sys.modules.get("torch")
    oom_type = getattr(getattr(torch, "cuda", None), "OutOfMemoryError", None) if torch else None
    if oom_type is not None and isinstance(exc, oom_type):
        return True
    text = str(exc).lower()
    return type(exc).__name__ == "OutOfMemoryError" or "out of memory" in text


@contextlib.contextmanager
def inference_mode() -> Iterator[None]:
    """``torch.inference_mode()`` (no autograd bookkeeping) for plugin ``run`` bodies."""
    import torch

    with torch.inference_mode():
        yield
