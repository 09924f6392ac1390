"""Purpose-built fake plugins, written into tmp_path per test, and a runner over them."""

from __future__ import annotations

import hashlib
import itertools
import sys
import textwrap
import threading
import types
from pathlib import Path

import numpy as np
import pytest

from medview.ai.audit import AuditLog
from medview.ai.registry import PluginRegistry, discover
from medview.ai.runner import Runner
from medview.imaging.volume import Volume, VolumeMeta

# Shared between the fake plugin modules (each plugin id is imported as its own module) and
# the tests: concurrency counters, an event list and the switch that lets hung plugins end.
SHARED = types.ModuleType("_medview_fake_shared")
sys.modules[SHARED.__name__] = SHARED

FAKE_CODE = '''
import threading
import time

import numpy as np

import _medview_fake_shared as S
from medview.ai.api import Finding, Overlay, Result


def _result(volume):
    mask = volume.with_array((np.arange(volume.array.size).reshape(volume.shape) % 7 == 0)
                             .astype(np.uint8))
    finding = Finding.from_voxel_box(volume, "thing", 0.9, (2, 3, 4), (5, 6, 7), mask=mask)
    heat = Overlay("heat", volume.with_array(np.zeros(volume.shape, np.float32)))
    return Result(findings=(finding,), overlays=(heat,), metadata={"answer": 42})


class Ok:
    def prepare(self, ctx):
        S.events.append(("prepare", type(self).__name__, ctx.device))

    def run(self, volume, params, ctx):
        for step in range(1, 6):
            ctx.progress(step / 5, f"step {step}")
        return _result(volume)

    def release(self):
        S.events.append(("release", type(self).__name__, ""))


class Raises(Ok):
    def run(self, volume, params, ctx):
        ctx.progress(0.5, "about to fail")
        raise RuntimeError("model exploded")


class Hangs(Ok):
    """Ignores cancel and timeouts: only the test's switch ends it."""

    def run(self, volume, params, ctx):
        S.hung.append(threading.current_thread().name)
        S.unhang.wait(30)
        return _result(volume)


class Cooperative(Ok):
    def run(self, volume, params, ctx):
        for step in range(2000):
            ctx.progress(step / 2000, "working")
            time.sleep(0.01)
        return _result(volume)


class Counts(Ok):
    """Records how many runs are inside run() at once, per device."""

    def run(self, volume, params, ctx):
        with S.lock:
            S.active[ctx.device] = S.active.get(ctx.device, 0) + 1
            S.peak[ctx.device] = max(S.peak.get(ctx.device, 0), S.active[ctx.device])
        time.sleep(params.get("seconds", 0.15))
        with S.lock:
            S.active[ctx.device] -= 1
        return _result(volume)


class OomOnGpu(Ok):
    def run(self, volume, params, ctx):
        if ctx.device != "cpu":
            raise RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return _result(volume)


class OomUntilSmallTiles(Ok):
    def run(self, volume, params, ctx):
        if ctx.tile_scale > 0.5:
            raise RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return Result(metadata={"tile_scale": ctx.tile_scale})


class ReadsWeights(Ok):
    def prepare(self, ctx):
        self.config = ctx.read_weights("config")

    def run(self, volume, params, ctx):
        return Result(metadata={"config": self.config.decode()})


class OffGrid(Ok):
    def run(self, volume, params, ctx):
        shifted = Volume(np.zeros(volume.shape, np.float32), volume.spacing, (9.0, 9.0, 9.0))
        return Result(overlays=(Overlay("bad", shifted),))


class Enhances(Ok):
    """Returns a derived volume on a finer grid (own geometry) plus an overlay."""

    def run(self, volume, params, ctx):
        finer = np.repeat(volume.array.astype(np.float32), 2, axis=0) * 0.5
        spacing = (volume.spacing[0], volume.spacing[1], volume.spacing[2] / 2)
        derived = Volume(finer, spacing, volume.origin, volume.direction,
                         volume.meta.__class__(modality="CT", units="HU", derived=True,
                                               derivation="fake super-resolution"))
        heat = Overlay("heat map", volume.with_array(np.ones(volume.shape, np.float32)))
        return Result(volumes=(derived,), overlays=(heat,))


class HasHook(Ok):
    """A "detection model" that can be explained: module, preprocessing, target choice."""

    def explainable(self):
        from medview.ai.api import ExplainHook

        return ExplainHook(
            module="the torch module",
            preprocess=lambda volume: volume.array.astype(np.float32) / 1000.0,
            target_for=lambda finding: 0,
            to_volume=lambda attribution, volume: volume.with_array(attribution),
        )


class Explains(Ok):
    def run(self, volume, params, ctx):
        hook = ctx.explainable(params["target"])
        attribution = np.abs(hook.preprocess(volume))  # stands in for Captum
        saliency = hook.to_volume(attribution, volume)
        return Result(overlays=(Overlay("saliency", saliency),),
                      metadata={"module": hook.module, "target": hook.target_for(None)})


from medview.imaging.volume import Volume  # noqa: E402
'''

_ids = itertools.count()


def reset_shared() -> None:
    SHARED.events = []
    SHARED.hung = []
    SHARED.lock = threading.Lock()
    SHARED.active = {}
    SHARED.peak = {}
    SHARED.unhang = threading.Event()


reset_shared()


def manifest_text(
    plugin_id: str,
    factory: str,
    *,
    devices: tuple[str, ...] = ("cpu",),
    on_oom: tuple[str, ...] = (),
    weights: str = "",
    extra_params: str = "",
) -> str:
    devices_toml = ", ".join(f'"{d}"' for d in devices)
    oom_toml = ", ".join(f'"{s}"' for s in on_oom)
    return (
        textwrap.dedent(
            f"""
        [plugin]
        id = "{plugin_id}"
        name = "Fake {factory}"
        version = "0.1.0"
        api_version = "1.0"
        kind = "detection"
        factory = "plugin:{factory}"
        outputs = ["findings", "overlays", "metadata"]
        license = "MIT"
        intended_use = "Tests only."
        not_for_diagnostic_use = true

        [applies_to]
        modalities = ["CT"]
        min_slices = 4
        spacing_mm = [0.5, 5.0]

        [runtime]
        devices = [{devices_toml}]
        on_out_of_memory = [{oom_toml}]
        # The fakes share state with the tests through an in-process module: they run in
        # threads (process isolation has its own tests, test_plugin_isolation.py).
        isolation = "thread"

        [[parameters]]
        name = "seconds"
        type = "float"
        default = 0.15
        min = 0.0
        max = 5.0
        """
        )
        + extra_params
        + weights
    )


@pytest.fixture
def fakes(tmp_path):
    """``make(factory, **manifest options) -> (plugin id, folder)`` in tmp_path/plugins."""
    reset_shared()
    root = tmp_path / "plugins"
    root.mkdir()

    def make(factory: str, *, weights: bytes | None = None, **options) -> tuple[str, Path]:
        plugin_id = f"test.{factory.lower()}-{next(_ids)}"
        folder = root / plugin_id
        folder.mkdir()
        (folder / "plugin.py").write_text(FAKE_CODE, encoding="utf-8")
        weights_toml = ""
        if weights is not None:
            (folder / "config.bin").write_bytes(weights)
            digest = hashlib.sha256(weights).hexdigest()
            weights_toml = (
                f'\n[[weights]]\nname = "config"\nfile = "config.bin"\nsha256 = "{digest}"\n'
            )
        text = manifest_text(plugin_id, factory, weights=weights_toml, **options)
        (folder / "plugin.toml").write_text(text, encoding="utf-8")
        return plugin_id, folder

    make.root = root
    yield make
    SHARED.unhang.set()  # let abandoned worker threads finish


@pytest.fixture
def make_runner(fakes, tmp_path):
    """A runner over the fake plugins only, auditing into tmp_path."""
    runners: list[Runner] = []

    def build(**options) -> Runner:
        registry = PluginRegistry(
            discover(bundled=False, user=False, entry_points=False, extra=[fakes.root])
        )
        options.setdefault("audit", AuditLog(tmp_path / "audit.jsonl"))
        options.setdefault("cancel_grace_s", 0.5)
        runner = Runner(registry, **options)
        runners.append(runner)
        return runner

    yield build
    for runner in runners:
        runner.shutdown()


def ct_volume(slices: int = 12, size: int = 16) -> Volume:
    """A small CT volume with an asymmetric, oblique-free geometry and known UIDs."""
    rng = np.random.default_rng(0)
    array = rng.normal(-800, 20, (slices, size, size + 2)).astype(np.int16)
    meta = VolumeMeta(
        modality="CT",
        units="HU",
        patient_name="Secret^Name",
        patient_id="PID-1",
        study_uid="1.2.3.4",
        series_uid="1.2.3.4.5",
        frame_of_reference_uid="1.2.3.4.6",
    )
    return Volume(array, (0.8, 0.9, 2.5), (-10.0, 20.0, 30.0), np.eye(3), meta)


@pytest.fixture
def volume() -> Volume:
    return ct_volume()
