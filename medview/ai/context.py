"""The :class:`~medview.ai.api.RunContext` the runner hands to a plugin."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from medview.ai import torch_backend
from medview.ai.api import ExplainHook
from medview.ai.manifest import Manifest, WeightsSpec
from medview.ai.weights import verify_bytes, verify_file, weights_path
from medview.core.errors import Cancelled, PluginError

if TYPE_CHECKING:  # pragma: no cover
    from medview.ai.jobs import Job


class JobContext:
    """Progress, cancellation, logging, the device and verified weights for one attempt."""

    def __init__(
        self,
        job: Job,
        manifest: Manifest,
        device: str,
        tile_scale: float,
        mixed: bool,
        hooks: Callable[[str, JobContext], ExplainHook] | None = None,
    ) -> None:
        self._job = job
        self._hooks = hooks
        self._manifest = manifest
        self.device = device
        self.tile_scale = tile_scale
        self.mixed_precision = mixed
        self.plugin_dir: Path = manifest.folder
        self.log = logging.getLogger(f"medview.plugin.{manifest.id}")

    def progress(self, fraction: float, message: str = "") -> None:
        """Report progress; raises ``Cancelled`` when the job was cancelled meanwhile."""
        self._job._report(fraction, message)
        self.check_cancelled()

    def check_cancelled(self) -> None:
        if self._job.cancel_requested:
            raise Cancelled()

    @property
    def cancelled(self) -> bool:
        return self._job.cancel_requested

    def _spec(self, name: str) -> WeightsSpec:
        for spec in self._manifest.weights:
            if spec.name == name:
                return spec
        known = ", ".join(s.name for s in self._manifest.weights) or "none"
        raise PluginError(f"plugin asked for weights {name!r}, its manifest declares: {known}")

    def weights(self, name: str) -> Path:
        """The file of weights ``name``, SHA-256 checked now (not from a cache)."""
        return verify_file(self._manifest, self._spec(name))

    def read_weights(self, name: str) -> bytes:
        """The bytes of weights ``name``, checked after reading (no swap between check and use)."""
        spec = self._spec(name)
        path = weights_path(self._manifest, spec)
        try:
            payload = path.read_bytes()
        except OSError as exc:
            raise PluginError(f"cannot read weights file {spec.file!r}: {exc}") from None
        return verify_bytes(self._manifest, spec, payload)

    def load_state_dict(self, name: str) -> dict[str, Any]:
        """Tensors of weights ``name`` on :attr:`device` (safetensors / weights_only)."""
        spec = self._spec(name)
        payload = self.read_weights(name)
        return torch_backend.load_state_dict(
            weights_path(self._manifest, spec), payload, self.device
        )

    def explainable(self, plugin_id: str) -> ExplainHook:
        """The explanation hook of (prepared) detection plugin ``plugin_id``."""
        if self._hooks is None:
            raise PluginError("explanation hooks are not available in this context")
        return self._hooks(plugin_id, self)
