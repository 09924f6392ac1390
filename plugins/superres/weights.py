"""Which generators the weights file holds and how to rebuild them from it.

``model.safetensors`` holds, for each model below, two checkpoints under the keys
``<model>.pixel.<parameter>`` (pixel loss only: the PSNR-oriented model) and
``<model>.gan.<parameter>`` (after adversarial training: the default).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .model import Generator

PLUGIN = Path(__file__).resolve().parent
#: model name -> (mode, scale, generator size). Through-plane models are smaller: they run
#: on every (z, x) plane of a volume (issue 6: a 300-slice study within 5 min on 2 cores).
ARCHITECTURES: dict[str, tuple[str, int, dict[str, int]]] = {
    "inplane-x2": ("inplane", 2, {"channels": 24, "growth": 12}),
    "inplane-x4": ("inplane", 4, {"channels": 24, "growth": 12}),
    "through-x2": ("through", 2, {"channels": 16, "growth": 8}),
    "through-x4": ("through", 4, {"channels": 16, "growth": 8}),
}
VARIANTS = ("pixel", "gan")


def new_generator(name: str) -> Generator:
    mode, scale, size = ARCHITECTURES[name]
    return Generator((scale, scale) if mode == "inplane" else (scale, 1), **size)


def generators_from_state(state: dict[str, Any], name: str) -> dict[str, Generator]:
    """{"pixel": ..., "gan": ...} for ``name``, in eval mode, on the CPU."""
    nets = {}
    for variant in VARIANTS:
        prefix = f"{name}.{variant}."
        net = new_generator(name)
        net.load_state_dict({k[len(prefix) :]: v for k, v in state.items() if k.startswith(prefix)})
        nets[variant] = net.eval()
    return nets


def load_generators(name: str, path: Path | None = None) -> dict[str, Generator]:
    """From a weights file (default: the shipped one) or a training checkpoint."""
    from safetensors.torch import load_file

    return generators_from_state(load_file(str(path or PLUGIN / "model.safetensors")), name)
