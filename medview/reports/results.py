"""Read ``medview run`` output folders (and an optional review file) into reported findings.

A results folder holds ``result.json`` (findings in LPS mm, masks as NIfTI under ``masks/``,
the plugin and the job's provenance; see ``medview/app/cli_ai.py``). The reader's decisions
come from ``review.json`` beside it when there is one::

    {"reviewer": "Dr Who",
     "findings": [{"id": "<job id>/<index>" or the 1-based finding number,
                   "status": "accepted" | "rejected" | "pending",
                   "edits": {"label": ..., "center_lps_mm": [...], "size_mm": [...]},
                   "note": "", "reviewed_at": "<ISO time>", "reviewed_by": "<name>"}]}

(the entries of ``FindingReview.records()`` have this shape). Without a review file every
finding of ``result.json`` counts as **accepted** by the reader running the export, and the
audit trail says so. Findings a review leaves pending are not reported.

An explanation plugin's folder (``medview.saliency``) also lists, in
``metadata.explanations``, the overlay that explains each finding (``{"finding": <1-based
number>, "overlay": <name in "overlays">, ...numbers}``); an accepted finding gets that
attribution map as its :class:`~medview.reports.model.Explanation` (exported as a DICOM
Parametric Map, :mod:`medview.reports.pmap`, and drawn as a saliency key image in the PDF),
with the method and its parameters from ``metadata.method`` and the plugin's id and version.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from medview.ai import accountability
from medview.ai.registry import discover
from medview.core.errors import MedviewError
from medview.imaging.volume import Volume
from medview.reports.model import (
    ACCEPTED,
    PENDING,
    REJECTED,
    Algorithm,
    AuditEvent,
    Explanation,
    ReportedFinding,
    as_points,
    now_iso,
)

RESULT_NAME = "result.json"
REVIEW_NAME = "review.json"
IMPLICIT_NOTE = "no review file: every finding accepted by the reader who ran `medview report`"


@dataclass
class LoadedResults:
    findings: list[ReportedFinding] = field(default_factory=list)
    audit: list[AuditEvent] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def _algorithm(document: dict[str, Any]) -> Algorithm:
    plugin = document.get("plugin") or {}
    provenance = document.get("provenance") or {}
    return Algorithm(
        plugin_id=str(plugin.get("id") or provenance.get("plugin_id") or "unknown"),
        name=str(plugin.get("name") or plugin.get("id") or "unknown"),
        version=str(plugin.get("version") or provenance.get("plugin_version") or "0"),
        weights_sha256=dict(provenance.get("weights_sha256") or {}),
        parameters=dict(provenance.get("parameters") or {}),
        intended_use=str(plugin.get("intended_use") or ""),
        provenance=provenance,
    )


def array_on_grid(folder: Path, name: str, volume: Volume, what: str) -> np.ndarray:
    """The NIfTI ``name`` in ``folder`` as an array, checked to lie on ``volume``'s grid."""
    import SimpleITK as sitk

    path = (folder / name).resolve()
    if folder.resolve() not in path.parents:
        raise MedviewError(f"{what} path {name!r} leaves the results folder", folder)
    try:
        image = Volume.from_sitk(sitk.ReadImage(str(path)))
    except RuntimeError as exc:
        raise MedviewError(f"cannot read the {what} ({exc})", path) from None
    if image.shape != volume.shape or not np.allclose(image.affine, volume.affine, atol=1e-3):
        raise MedviewError(f"the {what} is not on the grid of the study's series", path)
    return np.asarray(image.array)


def _mask(folder: Path, name: str | None, volume: Volume) -> np.ndarray | None:
    if not name:
        return None
    return array_on_grid(folder, name, volume, "mask") > 0


def _explanations(document: dict[str, Any]) -> dict[int, tuple[dict[str, Any], dict[str, Any]]]:
    """1-based finding number -> (its ``metadata.explanations`` entry, its overlay entry)."""
    overlays = {str(o.get("name")): o for o in document.get("overlays") or []}
    out = {}
    for entry in (document.get("metadata") or {}).get("explanations") or []:
        overlay = overlays.get(str(entry.get("overlay")))
        if overlay is not None and overlay.get("file") and isinstance(entry.get("finding"), int):
            out[entry["finding"]] = (entry, overlay)
    return out


def _explanation(
    folder: Path, document: dict[str, Any], entry: dict[str, Any], overlay: dict[str, Any],
    volume: Volume,
) -> Explanation:  # fmt: skip
    settings = (document.get("metadata") or {}).get("method") or {}
    if not isinstance(settings, dict):  # an older plugin's bare method name
        settings = {"method": settings}
    name = str(overlay["name"])
    # The plugin names its overlays saliency-<method>-finding-NNN (plugins/saliency).
    fallback = name.split("-")[1] if name.count("-") >= 2 else "unknown"
    algorithm = _algorithm(document)
    return Explanation(
        name=name,
        method=str(settings.get("method") or fallback),
        array=array_on_grid(folder, str(overlay["file"]), volume, "overlay").astype(np.float32),
        description=str(overlay.get("description") or ""),
        summary={k: v for k, v in entry.items() if k not in ("finding", "overlay")},
        parameters={k: v for k, v in settings.items() if k != "method"},
        plugin_id=algorithm.plugin_id,
        plugin_version=algorithm.version,
    )


def _review(folder: Path) -> dict[str, Any] | None:
    path = folder / REVIEW_NAME
    if not path.exists():
        return None
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise MedviewError(f"cannot read the review file ({exc})", path) from None
    if not isinstance(document, dict) or not isinstance(document.get("findings"), list):
        raise MedviewError("not a review file (needs a 'findings' list)", path)
    return document


def read_result_document(folder: Path, volume: Volume) -> dict[str, Any]:
    """``result.json`` of the ``medview run`` folder ``folder``, checked to be for ``volume``'s
    series. Raises MedviewError (naming the file) when missing, unreadable or for another."""
    path = Path(folder) / RESULT_NAME
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise MedviewError("no result.json: not a `medview run` output folder", folder) from None
    except (OSError, ValueError) as exc:
        raise MedviewError(f"cannot read the results ({exc})", path) from None
    if not isinstance(document, dict):
        raise MedviewError("result.json does not hold a result document", path)
    series = (document.get("input") or {}).get("series_uid", "")
    if series and volume.meta.series_uid and series != volume.meta.series_uid:
        raise MedviewError(
            f"these results are for series {series}, not the chosen series "
            f"{volume.meta.series_uid} (use --series)",
            path,
        )
    return document


def load_results(folder: Path, volume: Volume, reader: str, study_uid: str = "") -> LoadedResults:
    """The findings of one ``medview run`` folder, with the reader's decisions applied.

    Raises
    ------
    MedviewError
        No or unreadable ``result.json``, a result for another series, a bad review file, a
        result that does not state its model or contradicts the installed manifest.
    """
    folder = Path(folder)
    document = read_result_document(folder, volume)
    # Issue 11 AI1: only results that say which model made them, and that the installed
    # manifest does not contradict, reach a report.
    installed = [info.manifest for info in discover() if info.manifest is not None]
    mismatch = accountability.check_against_manifest(
        document.get("provenance") or {}, installed, folder / RESULT_NAME
    )
    algorithm = _algorithm(document)
    provenance = document.get("provenance") or {}
    if (algorithm.plugin_id, algorithm.version) != (
        provenance.get("plugin_id"),
        provenance.get("plugin_version"),
    ):
        raise MedviewError(
            f"names plugin {algorithm.plugin_id} {algorithm.version} but its provenance "
            f"{provenance.get('plugin_id')} {provenance.get('plugin_version')}; refused",
            folder / RESULT_NAME,
        )
    job_id = str((document.get("provenance") or {}).get("job_id") or folder.name)
    review = _review(folder)
    decisions: dict[str, dict[str, Any]] = {}
    for entry in (review or {}).get("findings", []):
        key = entry.get("id")
        if isinstance(key, int):
            key = f"{job_id}/{key - 1}"
        decisions[str(key)] = entry
    explanations = _explanations(document)
    loaded = LoadedResults(warnings=[mismatch] if mismatch else [])
    when = now_iso()
    for index, raw in enumerate(document.get("findings") or []):
        finding_id = f"{job_id}/{index}"
        decision = decisions.get(finding_id)
        if decision is None and review is not None:
            decision = {"status": PENDING}
        status = str((decision or {}).get("status", ACCEPTED))
        if status not in (ACCEPTED, REJECTED, PENDING):
            raise MedviewError(f"finding {finding_id}: unknown status {status!r}", folder)
        edits = dict((decision or {}).get("edits") or {})
        who = str((decision or {}).get("reviewed_by") or (review or {}).get("reviewer") or reader)
        at = str((decision or {}).get("reviewed_at") or when)
        center = as_points(edits.get("center_lps_mm", raw["center_lps_mm"]))
        size = as_points(edits.get("size_mm", raw["size_mm"]))
        bbox = tuple(as_points(c) for c in raw["bbox_lps_mm"])
        if "center_lps_mm" in edits or "size_mm" in edits:
            half = np.asarray(size) / 2
            bbox = (
                tuple(float(v) for v in np.asarray(center) - half),
                tuple(float(v) for v in np.asarray(center) + half),
            )
        finding = ReportedFinding(
            id=finding_id,
            label=str(edits.get("label", raw.get("label", "finding"))),
            center_lps_mm=center,
            size_mm=size,
            bbox_lps_mm=bbox,  # type: ignore[arg-type]
            code=tuple(raw["code"]) if raw.get("code") else None,  # type: ignore[arg-type]
            measurements={k: float(v) for k, v in (raw.get("measurements") or {}).items()},
            score=float(raw["score"]) if raw.get("score") is not None else None,
            algorithm=algorithm,
            status=status,
            decided_by=who if status != PENDING else "",
            decided_at=at if status != PENDING else "",
            edits=edits,
            note=str((decision or {}).get("note", "")),
            mask=_mask(folder, raw.get("mask"), volume) if status == ACCEPTED else None,
            study_uid=study_uid or volume.meta.study_uid,
            explanation=_explanation(folder, document, *explanations[index + 1], volume)
            if status == ACCEPTED and index + 1 in explanations
            else None,
        )
        loaded.findings.append(finding)
        if status == PENDING:
            loaded.warnings.append(f"finding {finding_id} is still pending review: not reported")
            continue
        action = "edit" if edits else ("accept" if status == ACCEPTED else "reject")
        note = finding.note or ("" if review is not None else IMPLICIT_NOTE)
        changes = {"status": [PENDING, status], **{k: [raw.get(k), v] for k, v in edits.items()}}
        loaded.audit.append(AuditEvent(action, who, at, finding_id, changes, note))
    return loaded
