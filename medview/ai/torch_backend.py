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
import os
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


#: ``MEDVIEW_DETERMINISTIC=0`` trades reproducibility for speed (issue 11 AI2).
DETERMINISTIC_ENV = "MEDVIEW_DETERMINISTIC"


def deterministic_wanted() -> bool:
    """Whether AI jobs run with deterministic kernels: yes unless ``MEDVIEW_DETERMINISTIC=0``.

    On by default: a radiologist who reruns a model on the same series must get the same
    findings (issue 11 AI2). On the CPU it costs nothing measurable; on CUDA it rules out a few
    non-deterministic (faster) cuDNN algorithms.
    """
    return os.environ.get(DETERMINISTIC_ENV, "1").strip().lower() not in ("0", "false", "no")


def apply_determinism() -> tuple[bool, int]:
    """Set torch's reproducibility switches if torch is loaded; (deterministic, threads).

    Called before each AI run, after the plugin's ``prepare`` (which imports torch): a
    plugin that never imports torch is not made to pay for it. ``threads`` is torch's
    intra-op thread count, which the provenance records because CPU reductions are split by
    thread: the same thread count gives the same bits, another may differ in the last place.
    """
    torch = sys.modules.get("torch")
    if torch is None:
        return False, 0
    wanted = deterministic_wanted()
    if wanted:
        # cuBLAS needs a fixed workspace to be deterministic (CUDA docs, "Reproducibility");
        # it must be set before its first handle is made, so set it at the first chance.
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    # warn_only: an op without a deterministic kernel warns instead of failing the job.
    torch.use_deterministic_algorithms(wanted, warn_only=True)
    torch.backends.cudnn.deterministic = wanted
    torch.backends.cudnn.benchmark = not wanted
    return wanted, int(torch.get_num_threads())
