"""DICOM Comprehensive 3D SR following TID 1500 "Measurement Report" (built with highdicom).

Content (PS3.16):

- TID 1001 observation context: the reader as person observer and, when AI contributed, the
  first algorithm as device observer (Device Observer UID = the algorithm's device UID, which
  changes with its weights; IHE AI Results). highdicom's TID 1001 holds one person and one
  device; every algorithm is in the Contributing Equipment Sequence (PS3.3 C.12.1) with its
  own Device UID.
- Procedure reported (TID 1500 row 4), image library (TID 1600) of the referenced slices.
- One measurement group per reported finding, with Tracking Identifier and Tracking UID
  (TID 1501 / 1411): TID 1411 volumetric group referencing the finding's SEG segment when
  there is a SEG, else TID 1410 planar group whose region is SCOORD3D (the box's cross
  section through the centre, in patient LPS: survives resampling, IHE AIR); finding type and
  site as codes; measurements (TID 1419): long axis (mm), volume (mm3), mean attenuation
  (HU), AI score (no units); a qualitative evaluation (score band); the algorithm (TID 4019:
  name, version, parameters) for AI-derived groups.
- One TID 1410 group per manual measurement (SCOORD3D region and its values).
- Verification Flag UNVERIFIED until the reader finalises, then VERIFIED with the Verifying
  Observer Sequence (PS3.3 C.17.2.1); Completion Flag COMPLETE, Preliminary Flag FINAL only
  when verified.
- A finding explained by an attribution map (issue 7) names its Parametric Map with an IMAGE
  item DCM 130401 "Visual explanation" in its group (:func:`.pmap.explanation_item`).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

import highdicom as hd
import numpy as np
from pydicom.dataset import Dataset
from pydicom.sr.codedict import codes as dcm_codes

from medview.reports import codes
from medview.reports.model import Algorithm, ReportedFinding, ReportModel, stable_uid
from medview.reports.pmap import explanation_item
from medview.reports.seg import (
    SegResult,
    add_device_uids,
    contributing_equipment,
    set_character_set,
)
from medview.reports.sources import SourceImages

log = logging.getLogger("medview.reports.sr")


def _algorithm_id(algorithm: Algorithm | None) -> hd.sr.AlgorithmIdentification | None:
    """TID 4019 Algorithm Identification (name, version, parameters)."""
    if algorithm is None:
        return None
    return hd.sr.AlgorithmIdentification(
        name=algorithm.name[:64],
        version=algorithm.version[:64],
        # The parameters, then the model's weights, torch and device (issue 11 AI1); an
        # imported algorithm may already list the latter among its parameters.
        parameters=list(
            dict.fromkeys(algorithm.parameter_strings() + algorithm.accountability_texts())
        )
        or None,
    )


def _measurements(finding: ReportedFinding) -> list[hd.sr.Measurement]:
    # The group names the algorithm (TID 1411 row 10); repeating it on each NUM adds nothing.
    algorithm_id = None
    out = [
        hd.sr.Measurement(
            name=codes.LONG_AXIS,
            value=round(finding.long_axis_mm, 3),
            unit=codes.MM,
            algorithm_id=algorithm_id,
        )
    ]
    if finding.volume_mm3 is not None:
        out.append(
            hd.sr.Measurement(
                name=codes.VOLUME,
                value=round(finding.volume_mm3, 3),
                unit=codes.MM3,
                algorithm_id=algorithm_id,
            )
        )
    if finding.mean_hu is not None:
        out.append(
            hd.sr.Measurement(
                name=codes.ATTENUATION,
                value=round(finding.mean_hu, 3),
                unit=codes.HU,
                derivation=codes.MEAN,
                algorithm_id=algorithm_id,
            )
        )
    if finding.score is not None:
        out.append(
            hd.sr.Measurement(
                name=codes.AI_SCORE,
                value=round(finding.score, 4),
                unit=codes.NO_UNITS,
            )
        )
    return out


def _box_section(finding: ReportedFinding, sources: SourceImages) -> np.ndarray:
    """Closed SCOORD3D POLYGON: the finding box cut by the acquired plane through its centre."""
    volume = sources.volume
    (x0, y0, z0), (x1, y1, z1) = finding.bbox_lps_mm
    corners = np.array([[x, y, z] for x in (x0, x1) for y in (y0, y1) for z in (z0, z1)])
    ijk = volume.lps_to_index(corners)
    k = float(volume.lps_to_index(np.asarray(finding.center_lps_mm))[2])
    (i0, j0), (i1, j1) = ijk[:, :2].min(axis=0), ijk[:, :2].max(axis=0)
    if i1 - i0 < 1e-3 or j1 - j0 < 1e-3:  # a degenerate box: one voxel around the centre
        ci, cj, _ = volume.lps_to_index(np.asarray(finding.center_lps_mm))
        i0, i1, j0, j1 = ci - 0.5, ci + 0.5, cj - 0.5, cj + 0.5
    ring = [(i0, j0), (i1, j0), (i1, j1), (i0, j1), (i0, j0)]
    return volume.index_to_lps(np.array([[i, j, k] for i, j in ring]))


def _finding_group(
    finding: ReportedFinding,
    sources: SourceImages,
    seg: SegResult | None,
) -> hd.sr.PlanarROIMeasurementsAndQualitativeEvaluations | (
    hd.sr.VolumetricROIMeasurementsAndQualitativeEvaluations
):
    tracking = hd.sr.TrackingIdentifier(
        uid=finding.tracking_uid, identifier=f"Finding {finding.id}"[:64]
    )
    common: dict[str, Any] = {
        "tracking_identifier": tracking,
        "finding_type": codes.coded(finding.code, codes.NODULE),
        "finding_sites": [hd.sr.FindingSite(codes.coded(finding.site, codes.LUNG))],
        "algorithm_id": _algorithm_id(finding.algorithm),
        "measurements": _measurements(finding),
        "qualitative_evaluations": None
        if finding.score is None
        else [
            hd.sr.QualitativeEvaluation(
                codes.AI_SCORE_BAND, codes.SCORE_BANDS[codes.score_band(finding.score)]
            )
        ],
    }
    if seg is not None and finding.id in seg.segment_numbers:
        segment = hd.sr.ReferencedSegment(
            sop_class_uid=seg.dataset.SOPClassUID,
            sop_instance_uid=seg.dataset.SOPInstanceUID,
            segment_number=seg.segment_numbers[finding.id],
            source_series=hd.sr.SourceSeriesForSegmentation(sources.volume.meta.series_uid),
        )
        return hd.sr.VolumetricROIMeasurementsAndQualitativeEvaluations(
            referenced_segment=segment, **common
        )
    region = hd.sr.ImageRegion3D(
        graphic_type=hd.sr.GraphicTypeValues3D.POLYGON,
        graphic_data=_box_section(finding, sources),
        frame_of_reference_uid=sources.volume.meta.frame_of_reference_uid,
    )
    return hd.sr.PlanarROIMeasurementsAndQualitativeEvaluations(referenced_region=region, **common)


def _measurement_group(
    record: dict[str, Any], number: int, sources: SourceImages
) -> (
    hd.sr.PlanarROIMeasurementsAndQualitativeEvaluations
    | hd.sr.MeasurementsAndQualitativeEvaluations
    | None
):
    """A reader's measurement (``measurement_records`` dict) as a TID 1410 group, or, for a
    point probe, a TID 1501 group whose measurement carries its point as SCOORD3D."""
    graphic_type = record.get("graphic_type")
    if graphic_type not in ("POLYLINE", "POLYGON", "ELLIPSE", "POINT"):
        log.info(
            "measurement %s (%s) has no SR region type; skipped", record.get("id"), graphic_type
        )
        return None
    frame_of_reference = (
        record.get("frame_of_reference_uid") or sources.volume.meta.frame_of_reference_uid
    )
    graphic_data = np.asarray(record["graphic_data"], dtype=float)
    # TID 1410 allows no POINT region, so a probe's point goes with its value: TID 300
    # "INFERRED FROM" TID 320 spatial coordinates (highdicom's referenced_coordinates).
    point = (
        [hd.sr.CoordinatesForMeasurement3D("POINT", graphic_data[:1], frame_of_reference)]
        if graphic_type == "POINT"
        else None
    )
    measurements = []
    for value in record.get("values", []):
        concept = codes.concept_from_path(value.get("concept") or "")
        if concept is None or value.get("value") is None:
            continue
        measurements.append(
            hd.sr.Measurement(
                name=concept,
                value=float(value["value"]),
                unit=codes.unit(value.get("unit", "")),
                referenced_coordinates=point,
            )
        )
    if not measurements:
        return None
    tracking = hd.sr.TrackingIdentifier(
        uid=stable_uid("measurement", sources.volume.meta.study_uid, str(record.get("id"))),
        identifier=f"Measurement {number}: {record.get('label') or record['kind']}"[:64],
    )
    if point is not None:
        return hd.sr.MeasurementsAndQualitativeEvaluations(
            tracking_identifier=tracking,
            finding_type=codes.MEASURED_FINDING,
            measurements=measurements,
        )
    region = hd.sr.ImageRegion3D(
        graphic_type=graphic_type,
        graphic_data=graphic_data,
        frame_of_reference_uid=frame_of_reference,
    )
    return hd.sr.PlanarROIMeasurementsAndQualitativeEvaluations(
        tracking_identifier=tracking,
        referenced_region=region,
        finding_type=codes.MEASURED_FINDING,
        measurements=measurements,
    )


def _observation_context(model: ReportModel) -> hd.sr.ObservationContext:
    person = hd.sr.ObserverContext(
        observer_type=dcm_codes.cid270.Person,
        observer_identifying_attributes=hd.sr.PersonObserverIdentifyingAttributes(
            name=model.reader or "UNKNOWN^READER",
            organization_name=model.organization or None,
        ),
    )
    device = None
    algorithms = model.algorithms()
    if algorithms:
        first = algorithms[0]
        device = hd.sr.ObserverContext(
            observer_type=dcm_codes.cid270.Device,
            observer_identifying_attributes=hd.sr.DeviceObserverIdentifyingAttributes(
                uid=first.device_uid,
                name=first.plugin_id[:64],
                manufacturer_name=first.manufacturer[:64],
                model_name=f"{first.name} {first.version}"[:64],
            ),
        )
    return hd.sr.ObservationContext(observer_person_context=person, observer_device_context=device)


def build_sr(
    model: ReportModel,
    sources: SourceImages,
    seg: SegResult | None,
    *,
    series_uid: str,
    sop_uid: str,
    series_number: int = 902,
    pmaps: Mapping[str, Dataset] | None = None,
) -> hd.sr.Comprehensive3DSR:
    """The TID 1500 report of ``model`` as a Comprehensive 3D SR.

    ``pmaps``: finding id -> the Parametric Map explaining it (:mod:`.pmap`); the finding's
    group then holds an IMAGE item "Visual explanation" naming it, and it joins the evidence.
    """
    pmaps = pmaps or {}
    groups: list[Any] = []
    for finding in model.reported_findings():
        group = _finding_group(finding, sources, seg)
        if finding.id in pmaps:
            group[0].ContentSequence.append(explanation_item(pmaps[finding.id]))
        groups.append(group)
    for number, record in enumerate(model.measurements, start=1):
        group = _measurement_group(record, number, sources)
        if group is not None:
            groups.append(group)
    library = _library(model, sources)
    report = hd.sr.MeasurementReport(
        observation_context=_observation_context(model),
        procedure_reported=codes.CT_PROCEDURE,
        imaging_measurements=groups or None,
        # highdicom describes library entries (TID 1602) from single-frame attributes only
        # (top-level Pixel Spacing, Image Position): a multi-frame source (Enhanced CT) is
        # referenced by the evidence and the SEG instead; findings keep SCOORD3D regions.
        referenced_images=None if sources.multiframe else library,
    )
    report[0].ContentSequence.append(_report_texts(model))
    evidence: list[Dataset] = list(library) or sources.unique_datasets([0])
    if seg is not None:
        evidence.append(seg.dataset)
    evidence.extend(pmaps.values())
    sr = hd.sr.Comprehensive3DSR(
        evidence=evidence,
        content=report,
        series_instance_uid=series_uid,
        series_number=series_number,
        sop_instance_uid=sop_uid,
        instance_number=1,
        manufacturer="medview",
        is_complete=True,
        is_final=model.verified,
        is_verified=model.verified,
        verifying_observer_name=model.verified_by or None if model.verified else None,
        verifying_organization=(model.organization or "unknown") if model.verified else None,
        contributing_equipment=contributing_equipment(model) or None,
        series_description="medview AI measurement report",
        coding_schemes=[
            hd.coding_schemes.CodingSchemeIdentificationItem(
                designator=codes.PRIVATE_SCHEME,
                name="medview local codes",
                responsible_organization="medview developers",
            )
        ],
    )
    add_device_uids(sr, model)
    set_character_set(sr)  # the reader's own text may be Chinese
    return sr


def _report_texts(model: ReportModel) -> hd.sr.ContainerContentItem:
    """TID 1500 row 12, "Qualitative Evaluations": the reader's findings text and impression
    (when written) and the intended-use statement ("not for diagnostic use", issue 11 AI3),
    so the SR carries what the PDF says wherever it goes."""
    container = hd.sr.ContainerContentItem(
        name=codes.QUALITATIVE_EVALUATIONS,
        relationship_type=hd.sr.RelationshipTypeValues.CONTAINS,
    )
    texts = [
        (codes.FINDINGS_TEXT, model.findings_text),
        (codes.IMPRESSION, model.impression),
        (codes.COMMENT, model.intended_use),
        # Each algorithm's own declared intended use ("... Not for diagnostic use.").
        *((codes.COMMENT, f"{a.name}: {a.intended_use}") for a in model.algorithms()
          if a.intended_use),
    ]  # fmt: skip
    container.ContentSequence = [
        hd.sr.TextContentItem(
            name=name, value=value, relationship_type=hd.sr.RelationshipTypeValues.CONTAINS
        )
        for name, value in texts
        if value and value.strip()
    ]
    return container


def _library(model: ReportModel, sources: SourceImages) -> list[Dataset]:
    """The slices the report refers to (finding centres, measurement slices), for TID 1600."""
    indices: list[int] = []
    for finding in model.reported_findings():
        indices.append(sources.slice_index(finding.center_lps_mm))
    for record in model.measurements:
        uid = record.get("referenced_sop_instance_uid")
        for k, ds in enumerate(sources.datasets):
            if uid and ds.SOPInstanceUID == uid:
                indices.append(k)
    # A multi-frame source is one library entry (the image), whatever frames are concerned.
    return sources.unique_datasets(sorted(set(indices)))


def referenced_uids(sr: Dataset) -> set[str]:
    """Every Referenced SOP Instance UID anywhere in ``sr`` (tests, anonymisation checks)."""
    found: set[str] = set()

    def walk(items: Sequence[Dataset]) -> None:
        for item in items:
            if "ReferencedSOPInstanceUID" in item:
                found.add(str(item.ReferencedSOPInstanceUID))
            for element in item:
                if element.VR == "SQ":
                    walk(element.value)

    walk([sr])
    return found
