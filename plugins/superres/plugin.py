"""GAN super-resolution as a medview plugin: manifest factory ``plugin:SuperResolution``.

``run`` returns one derived volume on the finer grid (same patient space, new spacing and
origin: :func:`plugins.superres.infer.upscaled_geometry`), labelled as derived with a
derivation naming the model, its checkpoint and the plugin's version, so the viewer
shows it as AI-generated and the DICOM writer puts it into DerivationDescription with
ImageType DERIVED\\SECONDARY.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import torch

from medview.ai.api import Params, Result, RunContext
from medview.ai.manifest import load_manifest
from medview.core.errors import PluginError
from medview.imaging.volume import Volume

from .infer import super_resolve
from .model import Generator
from .weights import generators_from_state

MANIFEST = Path(__file__).resolve().with_name("plugin.toml")


def derivation_text(name: str, variant: str) -> str:
    """Short enough for a view's corner; the weights' SHA-256 is in the job's provenance."""
    version = load_manifest(MANIFEST).version
    label = "GAN" if variant == "gan" else "pixel loss"
    return f"AI super-resolution {name} ({label}), medview.superres {version}"


class SuperResolution:
    def __init__(self) -> None:
        self._state: dict | None = None
        self._nets: dict[tuple[str, str], Generator] = {}
        self.device = "cpu"

    def prepare(self, ctx: RunContext) -> None:
        state = ctx.load_state_dict("model")  # SHA-256 checked, safetensors (no pickle)
        self._state = {k: v.to("cpu") for k, v in state.items()}
        self.device = ctx.device
        if ctx.device == "cpu":
            torch.set_num_threads(max(1, min(torch.get_num_threads(), 4)))

    def release(self) -> None:
        self._state = None
        self._nets.clear()

    def generator(self, name: str, variant: str) -> Generator:
        """The generator ``name`` (e.g. "through-x2"), checkpoint ``variant``, on the device."""
        if self._state is None:
            raise RuntimeError("generator() before prepare()")
        if (name, variant) not in self._nets:
            net = generators_from_state(self._state, name)[variant]
            self._nets[(name, variant)] = net.to(self.device)
        return self._nets[(name, variant)]

    def run(self, volume: Volume, params: Params, ctx: RunContext) -> Result:
        started = time.perf_counter()
        mode, scale, variant = params["mode"], int(params["scale"]), params["model"]
        if volume.is_color:
            raise PluginError("super-resolution works on greyscale images; this one is colour")
        if mode == "through" and volume.shape[0] < 2:
            raise PluginError("through-plane super-resolution needs at least 2 slices; use inplane")
        name = f"{mode}-x{scale}"
        net = self.generator(name, variant)
        ctx.progress(0.0, f"{name} on {self.device}")

        def progress(fraction: float) -> None:
            ctx.check_cancelled()
            ctx.progress(0.98 * fraction, f"{name}: {fraction:.0%}")

        out = super_resolve(volume, net, mode, self.device, progress=progress)
        derivation = derivation_text(name, variant)
        description = f"{volume.meta.series_description or 'series'} [AI SR {name}]"
        derived = out.with_array(
            out.array,
            derived=True,
            derivation=derivation,
            series_description=description[:64],
            series_uid="",  # a new series: the writer gives it a new UID
            source_sop_uids=(),
            windows=volume.meta.windows,
        )
        seconds = time.perf_counter() - started
        ctx.progress(
            1.0, f"{name}: {' x '.join(str(n) for n in derived.size_ijk)} in {seconds:.1f} s"
        )
        return Result(
            volumes=(derived,),
            metadata={
                "model": name,
                "checkpoint": variant,
                "input_spacing_mm": [round(v, 4) for v in volume.spacing],
                "output_spacing_mm": [round(v, 4) for v in derived.spacing],
                "output_size_ijk": [int(n) for n in derived.size_ijk],
                "seconds": round(seconds, 2),
                "device": self.device,
                "dtype": str(np.dtype(derived.array.dtype)),
            },
        )
