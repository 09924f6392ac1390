"""Export a report: SR, SEG, Parametric Maps, PDF and JSON into a folder, written atomically.

Every file is written to a temporary name in the target folder and fsynced, and only when
all of them are complete are they renamed into place
(:func:`medview.core.paths.atomic_write_files`): a crash, a kill or a full disk leaves the
previous files or whole new ones, never half of one, and a failed write (disk full,
read-only folder) none changed (issue 11, D1/D3). Leftover ``.*.part`` files of a killed
export are removed by the next (:func:`medview.core.sweep.sweep_folder`). The source DICOM
is only read. With ``anonymize`` every object, the JSON and the PDF are de-identified with
one UID map (:mod:`.anonymize`), and de-identified copies of the source images are written
to ``images/`` so the SR's, SEG's and maps' references resolve inside the export. Images
that may show identifying text in their pixels (ultrasound, secondary capture, Burned In
Annotation YES: :mod:`.burned_in`) are refused then, before anything is written, unless
``accept_burned_in``.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import pydicom
from pydicom.dataset import Dataset
from pydicom.uid import generate_uid

from medview.core.errors import MedviewError
from medview.core.paths import atomic_write_bytes, atomic_write_files
from medview.core.phi_paths import register_user_path
from medview.core.sweep import sweep_folder
from medview.reports.annex_e import Options
from medview.reports.anonymize import UidMap, anonymize_model, deidentify
from medview.reports.burned_in import burned_in_reason
from medview.reports.json_report import report_json
from medview.reports.model import ReportModel
from medview.reports.sources import SourceImages

log = logging.getLogger("medview.reports.export")

FORMATS = ("sr", "seg", "pm", "pdf", "json")
FILE_NAMES = {"sr": "report-sr.dcm", "seg": "report-seg.dcm", "pdf": "report.pdf",
              "json": "report.json"}  # fmt: skip
IMAGES_DIR = "images"


@dataclass
class ExportResult:
    """What was written where."""

    files: dict[str, Path] = field(default_factory=dict)
    images: list[Path] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    sr_uid: str = ""
    seg_uid: str = ""
    #: Finding id -> SOP Instance UID of the Parametric Map explaining it (format ``pm``).
    pm_uids: dict[str, str] = field(default_factory=dict)


def parse_formats(text: str | Iterable[str]) -> tuple[str, ...]:
    """``"sr,seg"`` -> ``("sr", "seg")``; unknown names raise :class:`MedviewError`."""
    names = [n.strip().lower() for n in (text.split(",") if isinstance(text, str) else text)]
    names = [n for n in names if n]
    unknown = [n for n in names if n not in FORMATS]
    if unknown or not names:
        raise MedviewError(f"--format takes a comma-separated list of {', '.join(FORMATS)}")
    return tuple(dict.fromkeys(names))


def _dicom_bytes(ds: Dataset) -> bytes:
    buffer = io.BytesIO()
    pydicom.dcmwrite(buffer, ds, enforce_file_format=True)
    return buffer.getvalue()


def _remove_leftovers(folder: Path) -> None:
    # Only a dead writer's temp files: another medview may be exporting here right now.
    removed = sweep_folder(folder) + sweep_folder(folder / IMAGES_DIR)
    if removed:
        log.info("removed %d temporary file(s) of an interrupted export", len(removed))


def export_report(
    model: ReportModel,
    sources: SourceImages,
    out_dir: Path,
    formats: Iterable[str] = FORMATS,
    *,
    anonymize: bool = False,
    options: Options | None = None,
    accept_burned_in: bool = False,
    salt: str | None = None,
    progress: Callable[[str], None] | None = None,
) -> ExportResult:
    """Write the report of ``model`` on ``sources`` into ``out_dir`` (created if needed).

    Parameters
    ----------
    formats
        Any of ``sr``, ``seg``, ``pm``, ``pdf``, ``json``. The SR references the SEG's
        segments only when the SEG is exported with it; otherwise its regions are SCOORD3D.
        ``pm``: one Parametric Map ``report-pm-NNN.dcm`` per reported finding with an
        attribution map (:mod:`.pmap`); the SR's group of that finding names it.
    anonymize
        De-identify everything (PS3.15 Annex E, see :mod:`medview.reports.anonymize`).
    options
        The profile options (Retain Longitudinal Temporal Information, Clean Descriptors:
        :class:`medview.reports.annex_e.Options`); the Basic Profile alone when None.
    accept_burned_in
        Export de-identified copies of images that may show identifying text in their
        pixels (ultrasound, secondary capture, Burned In Annotation YES) anyway; each is
        named in ``warnings``. Without it such an image stops the export (issue 11, S2).
    salt
        Secret for the UID map (random when None).

    Raises
    ------
    MedviewError
        Unknown format, a target that is not a folder, a write error, an image with
        possibly burned-in identifying text in a de-identified export.
    """
    from medview.reports.pmap import build_pmaps
    from medview.reports.pmap import file_names as pm_file_names
    from medview.reports.seg import build_seg
    from medview.reports.sr import build_sr

    formats = parse_formats(list(formats))
    say = progress or (lambda _message: None)
    out_dir = Path(out_dir)
    register_user_path(out_dir)  # the log names it by a pseudonym (issue 11, privacy)
    if out_dir.exists() and not out_dir.is_dir():
        raise MedviewError("exists and is not a folder", out_dir)
    gated = _burned_in_gate(sources, accept_burned_in) if anonymize else []
    out_dir.mkdir(parents=True, exist_ok=True)
    _remove_leftovers(out_dir)
    result = ExportResult(warnings=gated)
    seg = None
    if "seg" in formats:
        say("building the segmentation")
        seg = build_seg(model, sources, series_uid=generate_uid(), sop_uid=generate_uid())
        if seg is None:
            result.warnings.append("no reported finding has a mask: no SEG written")
    pmaps = {}
    if "pm" in formats:
        say("building the parametric maps of the explanations")
        pmaps = build_pmaps(model, sources)
    sr = None
    if "sr" in formats:
        say("building the structured report")
        sr = build_sr(
            model, sources, seg, series_uid=generate_uid(), sop_uid=generate_uid(), pmaps=pmaps
        )
    segment_numbers = dict(seg.segment_numbers) if seg else {}
    exported = model
    patient_id = ""
    if anonymize:
        uids = UidMap(salt, keep=[a.device_uid for a in model.algorithms()])
        patient_id = uids.pseudonym(model.study.patient_id)
        for ds in (sr, seg.dataset if seg else None, *pmaps.values()):
            if ds is not None:
                deidentify(ds, uids, patient_id, options)
        exported = anonymize_model(model, uids, patient_id)
        say("writing de-identified copies of the source images")
        for number, path in enumerate(sources.unique_paths(), start=1):
            image = pydicom.dcmread(path)
            deidentify(image, uids, patient_id, options)
            target = out_dir / IMAGES_DIR / f"IM{number:05d}.dcm"
            _write(target, _dicom_bytes(image))
            result.images.append(target)
    objects = {}
    staged: dict[Path, bytes] = {}  # written together at the end (_commit)
    if seg is not None:
        result.seg_uid = str(seg.dataset.SOPInstanceUID)
        target = out_dir / FILE_NAMES["seg"]
        staged[target] = _dicom_bytes(seg.dataset)
        result.files["seg"] = target
        objects["seg"] = _describe(seg.dataset, target.name)
    for (finding_id, pm), name in zip(pmaps.items(), pm_file_names(pmaps).values(), strict=True):
        result.pm_uids[finding_id] = str(pm.SOPInstanceUID)
        target = out_dir / name
        staged[target] = _dicom_bytes(pm)
        kind = target.stem.removeprefix("report-")  # pm-001, ...
        result.files[kind] = target
        objects[kind] = {**_describe(pm, target.name), "finding_id": finding_id}
    if sr is not None:
        result.sr_uid = str(sr.SOPInstanceUID)
        target = out_dir / FILE_NAMES["sr"]
        staged[target] = _dicom_bytes(sr)
        result.files["sr"] = target
        objects["sr"] = _describe(sr, target.name)
    if "pdf" in formats:
        say("rendering the PDF")
        from medview.reports.pdf import render_pdf

        target = out_dir / FILE_NAMES["pdf"]
        staged[target] = render_pdf(exported, sources.volume)
        result.files["pdf"] = target
        objects["pdf"] = {"file": target.name}
    if "json" in formats:
        target = out_dir / FILE_NAMES["json"]
        text = report_json(
            exported, objects=objects, segment_numbers=segment_numbers, anonymized=anonymize
        )
        staged[target] = text.encode("utf-8")
        result.files["json"] = target
    _commit(out_dir, staged)
    return result


def _burned_in_gate(sources: SourceImages, accept: bool) -> list[str]:
    """Refuse (or, accepted, name) the images that may show identifying pixels."""
    warnings = []
    for path in sources.unique_paths():
        reason = burned_in_reason(pydicom.dcmread(path, stop_before_pixels=True))
        if not reason:
            continue
        if not accept:
            raise MedviewError(
                f"may show the patient's identity in its pixels ({reason}) and medview does "
                "not clean pixel data: not exported de-identified (--accept-burned-in to "
                "export it anyway)",
                path,
            )
        warnings.append(f"{path}: {reason}; exported with its pixels as they are")
    return warnings


def _describe(ds: Dataset, name: str) -> dict[str, str]:
    return {
        "file": name,
        "sop_class_uid": str(ds.SOPClassUID),
        "sop_instance_uid": str(ds.SOPInstanceUID),
        "series_instance_uid": str(ds.SeriesInstanceUID),
    }


def _write(target: Path, payload: bytes) -> None:
    try:
        atomic_write_bytes(target, payload)
    except OSError as exc:
        raise MedviewError(f"cannot write the report file ({_reason(exc)})", target) from None


def _commit(out_dir: Path, payloads: dict[Path, bytes]) -> None:
    """Write the report files all or none (issue 11, D3: a disk that fills up during the
    PDF must not leave a new SR beside the old PDF and JSON)."""
    try:
        atomic_write_files(payloads)
    except OSError as exc:
        raise MedviewError(
            f"cannot write the report files ({_reason(exc)}); the files already there are "
            "unchanged",
            out_dir,
        ) from None


def _reason(exc: OSError) -> str:
    """``No space left on device``, not ``[Errno 28] ...: '/x/.report.pdf.k2j3.part'``: the
    temp file's name means nothing to the user, the folder is named by the caller."""
    return exc.strerror or type(exc).__name__
