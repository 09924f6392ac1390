"""The steps of ``medview self-test``: demo study → import → load → AI plugins → report → checks.

Each step is a method that returns a one-line detail or raises; :mod:`medview.app.cli_selftest`
times it and prints PASS/FAIL/SKIP. Everything is written under one temporary workspace whose
``home/`` is this process's ``MEDVIEW_HOME`` during the run, so the user's database, audit
logs and settings are never touched; the user plugins folder is still searched (the plugins
the clinic dropped in are the ones it wants checked).

The plugins run on a crop of the demo (a ~96 mm box around the first ground-truth nodule) so
that the whole test takes seconds on a CPU; their masks and maps are put back on the full
series' grid by exact index placement (the crop is an index sub-box of the same grid, so no
resampling is involved) and the report is written against the real DICOM files.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np

from medview.core.errors import MedviewError
from medview.imaging.volume import Volume

#: Half side of the crop the plugins run on, mm (the detector sees a 64³ patch at 1.5 mm).
CROP_HALF_MM = 48.0
#: Findings asked of a detector / an explanation plugin (keeps the report small and fast).
DETECTOR_MAX_FINDINGS = 3
EXPLAIN_MAX_FINDINGS = 1
#: Per-job limit; a plugin that hangs fails the self-test instead of hanging it.
JOB_TIMEOUT_S = 300.0
READER = "SELFTEST^MEDVIEW"
#: dciodvfy's tables predate Device UID in the Contributing Equipment Sequence and do not
#: know medview's private coding scheme (tests/unit/reports/test_dicom_exports.py).
DCIODVFY_EXPECTED = ("Device UID", "Standard Extended SOP Class", "<99MEDVIEW>")
#: Plugin kinds in run order: explanations reuse the detections run before them.
KIND_ORDER = {"detection": 0, "segmentation": 1, "enhancement": 2, "explanation": 3}


class Skip(Exception):
    """The step does not apply here (printed as SKIP, not a failure)."""


@dataclass
class PluginRun:
    plugin_id: str
    kind: str
    folder: Path | None = None  # the `medview run`-style result folder
    findings: int = 0


@dataclass
class SelfTestState:
    """What the steps hand each other."""

    workspace: Path
    user_plugins: Path | None
    size: int
    slices: int
    device: str = "cpu"
    demo: Any = None
    volume: Volume | None = None
    paths: list[str] = field(default_factory=list)
    crop: Volume | None = None
    box: tuple[slice, slice, slice] | None = None
    registry: Any = None
    runner: Any = None
    runs: list[PluginRun] = field(default_factory=list)
    report: Any = None
    model: Any = None
    masks_voxels: int = 0


def crop_box(volume: Volume, center_lps, half_mm: float) -> tuple[slice, slice, slice]:
    """The (z, y, x) index box of ``volume`` within ``half_mm`` of ``center_lps`` (clipped)."""
    ijk = np.rint(volume.lps_to_index(np.asarray(center_lps, float))).astype(int)
    half = np.ceil(half_mm / np.asarray(volume.spacing)).astype(int)
    low = np.clip(ijk - half, 0, np.asarray(volume.size_ijk) - 1)
    high = np.clip(ijk + half + 1, low + 1, np.asarray(volume.size_ijk))
    return (slice(low[2], high[2]), slice(low[1], high[1]), slice(low[0], high[0]))


def crop_volume(volume: Volume, box: tuple[slice, slice, slice]) -> Volume:
    """The sub-volume at ``box``: same spacing and direction, origin at its first voxel."""
    first_ijk = (box[2].start, box[1].start, box[0].start)
    origin = tuple(float(v) for v in volume.index_to_lps(first_ijk))
    array = np.ascontiguousarray(volume.array[box])
    return Volume(array, volume.spacing, origin, volume.direction, volume.meta)


def uncrop(part: Volume, crop: Volume, full: Volume, box) -> Volume:
    """``part`` (on ``crop``'s grid) placed into a zero volume on ``full``'s grid."""
    if part.shape[:3] != crop.shape or not np.allclose(part.affine, crop.affine, atol=1e-4):
        raise MedviewError("a plugin returned a mask or map that is not on its input's grid")
    array = np.zeros(full.shape[:3] + part.array.shape[3:], dtype=part.array.dtype)
    array[box] = part.array
    return Volume(array, full.spacing, full.origin, full.direction, part.meta)


def _to_full_grid(result, crop: Volume, full: Volume, box):
    findings = tuple(
        replace(f, mask=uncrop(f.mask, crop, full, box)) if f.mask is not None else f
        for f in result.findings
    )
    overlays = tuple(replace(o, volume=uncrop(o.volume, crop, full, box)) for o in result.overlays)
    return replace(result, findings=findings, overlays=overlays)


class SelfTestSteps:
    """The steps, in order; each returns its detail line (see the module docstring)."""

    def __init__(self, state: SelfTestState) -> None:
        self.state = state

    # -- data ------------------------------------------------------------------------------
    def write_demo(self) -> str:
        from medview.dicom.demo import write_demo_study

        s = self.state
        s.demo = write_demo_study(s.workspace / "demo", seed=0, size=s.size, slices=s.slices)
        if len(s.demo.files) != s.slices:
            raise MedviewError(f"wrote {len(s.demo.files)} files, expected {s.slices}")
        return f"{len(s.demo.files)} CT slices of {s.size}x{s.size} in {s.demo.directory}"

    def import_demo(self) -> str:
        from medview.core.paths import app_dirs
        from medview.dicom.importer import import_paths
        from medview.dicom.index import StudyDatabase

        dirs = app_dirs().ensure()
        with StudyDatabase(dirs.database) as database:
            summary = import_paths([self.state.demo.directory], database, dirs=dirs)
            counts = database.counts()
        if summary.errors:
            path, reason = summary.errors[0]
            raise MedviewError(f"{len(summary.errors)} file(s) unreadable, first: {reason}", path)
        if summary.instances_added != self.state.slices or counts["series"] != 1:
            raise MedviewError(
                f"{summary.instances_added} instance(s) in {counts['series']} series; expected "
                f"{self.state.slices} in 1"
            )
        return f"{summary.instances_added} instances, 1 series in a new database"

    def load(self) -> str:
        from medview.dicom.loader import load_candidate
        from medview.model.opening import import_and_choose

        s = self.state
        candidate = import_and_choose(s.demo.directory, s.demo.series_uid)
        s.volume = load_candidate(candidate)
        s.paths = [str(item.header.path) for item in candidate.slices]
        volume = s.volume
        if volume.shape != (s.slices, s.size, s.size) or volume.meta.modality != "CT":
            raise MedviewError(f"loaded {volume.meta.modality} {volume.shape}, expected CT")
        low, high = float(volume.array.min()), float(volume.array.max())
        # Air and bone must both be there: a wrong rescale would shift or squash the range.
        if low > -900 or high < 300:
            raise MedviewError(f"HU range {low:.0f}..{high:.0f} is not a chest CT's")
        truth = json.loads(Path(s.demo.truth_path).read_text(encoding="utf-8"))
        s.box = crop_box(volume, truth["nodules"][0]["center_lps"], CROP_HALF_MM)
        s.crop = crop_volume(volume, s.box)
        shape = "x".join(map(str, volume.shape))
        crop = "x".join(map(str, s.crop.shape))
        return f"{shape} CT, {low:.0f}..{high:.0f} HU; AI crop {crop} around nodule 1"

    # -- plugins ---------------------------------------------------------------------------
    def discover(self) -> str:
        from medview.ai.registry import PluginRegistry

        s = self.state
        s.registry = PluginRegistry(user=s.user_plugins or False)
        infos = s.registry.plugins()
        if not infos:
            raise MedviewError("no AI plugins found (the bundle lacks medview_plugins?)")
        broken = [i for i in infos if not i.available]
        if broken:
            raise MedviewError(
                "; ".join(f"{i.id} ({i.source}) unavailable: {i.reason}" for i in broken)
            )
        return f"{len(infos)} plugin(s): " + ", ".join(f"{i.id} ({i.source})" for i in infos)

    def plugin_ids(self) -> list[str]:
        """Available plugins in run order (detectors first, explanations last)."""
        infos = [i for i in self.state.registry.plugins() if i.available]
        infos.sort(key=lambda i: (KIND_ORDER.get(i.kind, 1), i.id))
        return [i.id for i in infos]

    def verify_weights(self, plugin_id: str) -> str:
        """Hash every weights file again, bypassing discovery's cache."""
        from medview.ai.weights import verify_all

        manifest = self.state.registry.require(plugin_id)
        verified = verify_all(manifest, use_cache=False)
        if not verified:
            return "no weights files"
        return ", ".join(f"{spec.file} sha256 {spec.sha256[:12]}…" for spec in manifest.weights)

    def _params(self, manifest) -> dict[str, str]:
        params = {p.name: p for p in manifest.parameters}
        chosen: dict[str, str] = {}
        if "max_findings" in params:
            explain = manifest.kind == "explanation"
            chosen["max_findings"] = str(EXPLAIN_MAX_FINDINGS if explain else DETECTOR_MAX_FINDINGS)
        method = params.get("method")
        if method is not None and "gradcam" in method.choices:
            chosen["method"] = "gradcam"  # the fastest Captum method on a CPU
        return chosen

    def run_plugin(self, plugin_id: str) -> str:
        from medview.ai.runner import JobState, Runner
        from medview.app.cli_ai import write_outputs

        s = self.state
        manifest = s.registry.require(plugin_id)
        reason = manifest.applies_to(s.crop)
        if reason:
            raise Skip(reason)
        target = next((p for p in manifest.parameters if p.name == "target"), None)
        if manifest.kind == "explanation" and target is not None:
            # An explanation runs its detector first: no point (and a failure) if it cannot.
            explained = s.registry.require(str(target.default))
            reason = explained.applies_to(s.crop)
            if reason:
                raise Skip(f"its detector {explained.id} does not apply: {reason}")
        if s.runner is None:
            s.runner = Runner(
                s.registry, default_device=s.device, cpu_workers=1, default_timeout_s=JOB_TIMEOUT_S
            )
        params = self._params(manifest)
        job = s.runner.run(plugin_id, s.crop, params)
        if job.state is not JobState.SUCCEEDED or job.result is None:
            raise MedviewError(f"job {job.state.value}: {job.error}")
        result = job.result
        if manifest.kind == "explanation" and result.findings and not result.overlays:
            raise MedviewError("explained no finding (no attribution map returned)")
        if manifest.kind == "enhancement":
            if not result.volumes:
                raise MedviewError("returned no derived volume")
            for derived in result.volumes:
                if derived.array.size <= s.crop.array.size or not np.isfinite(derived.array).all():
                    raise MedviewError(f"derived volume {derived.shape} is not a valid upscale")
        full = _to_full_grid(result, s.crop, s.volume, s.box)
        folder = s.workspace / "results" / plugin_id
        write_outputs(folder, SimpleNamespace(result=full, manifest=manifest), s.volume,
                      s.demo.directory)  # fmt: skip
        run = PluginRun(plugin_id, manifest.kind, folder, len(result.findings))
        s.runs.append(run)
        parts = [f"{len(result.findings)} finding(s)"]
        if result.overlays:
            parts.append(f"{len(result.overlays)} map(s)")
        for derived in result.volumes:
            parts.append("derived " + "x".join(map(str, derived.shape)))
        params_text = " ".join(f"{k}={v}" for k, v in params.items())
        return f"{', '.join(parts)} on {job.device}" + (f" ({params_text})" if params_text else "")

    def shutdown(self) -> None:
        if self.state.runner is not None:
            self.state.runner.shutdown()
            self.state.runner = None

    # -- report ----------------------------------------------------------------------------
    def write_report(self) -> str:
        from medview.reports.export import FORMATS, export_report
        from medview.reports.model import ReportModel, StudyInfo
        from medview.reports.results import load_results
        from medview.reports.sources import SourceImages

        s = self.state
        folders = [r.folder for r in s.runs if r.folder is not None and r.findings]
        if not folders:
            raise Skip("no plugin returned findings to report")
        sources = SourceImages.read(s.volume, s.paths)
        study = StudyInfo.from_dataset(sources.datasets[0])
        model = ReportModel(study=study, reader=READER, language="en",
                            impression="medview self-test: synthetic phantom, not a patient")  # fmt: skip
        for folder in folders:
            loaded = load_results(folder, s.volume, READER, study.study_uid)
            model.findings.extend(loaded.findings)
        s.model = model
        s.report = export_report(model, sources, s.workspace / "report", FORMATS)
        s.masks_voxels = sum(
            int(np.count_nonzero(f.mask)) for f in model.reported_findings() if f.mask is not None
        )
        names = ", ".join(sorted(p.name for p in s.report.files.values()))
        return f"{len(model.reported_findings())} finding(s) from {len(folders)} run(s): {names}"

    def _file(self, kind: str) -> Path:
        if self.state.report is None:
            raise Skip("no report was written")
        path = self.state.report.files.get(kind)
        if path is None:
            raise MedviewError(f"the report has no {kind.upper()} file")
        return path

    def check_sr(self) -> str:
        import highdicom as hd

        sr = hd.sr.srread(self._file("sr"))
        if sr.SOPClassUID != "1.2.840.10008.5.1.4.1.1.88.34":
            raise MedviewError(f"SR is {sr.SOPClassUID}, not Comprehensive 3D SR")
        groups = sr.content.get_volumetric_roi_measurement_groups()
        groups += sr.content.get_planar_roi_measurement_groups()
        expected = len(self.state.model.reported_findings())
        if len(groups) < expected:
            raise MedviewError(f"SR holds {len(groups)} finding group(s), expected {expected}")
        if sr.StudyInstanceUID != self.state.volume.meta.study_uid:
            raise MedviewError("SR is not in the demo study")
        return f"Comprehensive 3D SR, {len(groups)} measurement group(s), {sr.VerificationFlag}"

    def check_seg(self) -> str:
        import highdicom as hd

        if "seg" not in self.state.report.files and not self.state.masks_voxels:
            raise Skip("no reported finding has a mask")
        seg = hd.seg.segread(self._file("seg"))
        referenced = seg.ReferencedSeriesSequence[0].SeriesInstanceUID
        if referenced != self.state.volume.meta.series_uid:
            raise MedviewError("SEG references another series than the demo's")
        voxels = int(np.asarray(seg.pixel_array).astype(bool).sum())
        if voxels != self.state.masks_voxels:
            raise MedviewError(
                f"SEG has {voxels} mask voxels, the findings {self.state.masks_voxels}"
            )
        return f"{len(seg.SegmentSequence)} segment(s), {voxels} voxels as in the findings"

    def check_pdf(self) -> str:
        path = self._file("pdf")
        try:
            import pymupdf
        except ImportError:
            pymupdf = None
        if pymupdf is None:  # not bundled in the frozen app: check the file's structure
            payload = path.read_bytes()
            if not payload.startswith(b"%PDF-") or b"%%EOF" not in payload[-1024:]:
                raise MedviewError("not a complete PDF (header or %%EOF missing)", path)
            return f"{len(payload)} bytes, PDF header and trailer present (pymupdf not installed)"
        with pymupdf.open(path) as document:
            pages = document.page_count
            text = "".join(page.get_text() for page in document)
        if pages < 1 or "medview" not in text.lower():
            raise MedviewError(f"the PDF has {pages} page(s) and does not name medview", path)
        return f"opens with pymupdf: {pages} page(s)"

    def check_json(self) -> str:
        document = json.loads(self._file("json").read_text(encoding="utf-8"))
        listed = document.get("findings") or []
        expected = len(self.state.model.findings)
        if len(listed) != expected:
            raise MedviewError(f"report.json lists {len(listed)} finding(s), expected {expected}")
        return f"{len(listed)} finding(s), keys: {', '.join(sorted(document)[:6])}…"

    def check_dciodvfy(self) -> str:
        tool = shutil.which("dciodvfy")
        if tool is None:
            raise Skip("dciodvfy (dicom3tools) not on PATH")
        files = [p for k, p in self.state.report.files.items() if p.suffix == ".dcm"]
        problems = []
        for path in files:
            run = subprocess.run([tool, str(path)], capture_output=True, text=True, timeout=120)
            for line in (run.stdout + run.stderr).splitlines():
                if line.startswith("Error") or (
                    line.startswith("Warning") and not any(e in line for e in DCIODVFY_EXPECTED)
                ):
                    problems.append(f"{path.name}: {line.strip()}")
        if problems:
            raise MedviewError(f"{len(problems)} problem(s), first: {problems[0]}")
        return f"no errors in {len(files)} DICOM object(s)"
