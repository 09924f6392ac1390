"""DICOM Segmentation of the reported findings' masks (PS3.3 A.51, built with highdicom).

One binary segment per reported finding that has a mask, on the frames of the source CT
slices (empty frames omitted). Each segment carries the finding type as Segmented Property
Type, "Morphologically Abnormal Structure" as category, the finding site as anatomic region,
the finding's Tracking ID/UID (the same as in the SR, PS3.3 C.8.20.4) and the algorithm:
AUTOMATIC with its Algorithm Identification (PS3.3 C.8.20.2: name, family, version,
parameters) for an AI mask as it came, SEMIAUTOMATIC when the reader edited the finding (an
AI result corrected by a person; the DICOM term for "calculated with user assistance"), and
MANUAL for a reader's own finding (no algorithm).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import highdicom as hd
import numpy as np
from pydicom.sr.codedict import codes as dcm_codes

from medview import __version__
from medview.reports import codes
from medview.reports.model import Algorithm, ReportedFinding, ReportModel
from medview.reports.sources import SourceImages


@dataclass(frozen=True)
class SegResult:
    """The Segmentation and the segment number of each finding id in it."""

    dataset: hd.seg.Segmentation
    segment_numbers: dict[str, int]


def algorithm_identification(algorithm: Algorithm) -> hd.AlgorithmIdentificationSequence:
    """PS3.3 C.8.20.2 Algorithm Identification (family: Artificial Intelligence, CID 7162)."""
    return hd.AlgorithmIdentificationSequence(
        name=algorithm.name[:64],
        family=dcm_codes.cid7162.ArtificialIntelligence,
        version=algorithm.version[:64],
        source=algorithm.manufacturer[:64],
        parameters={
            **{k: str(v)[:64] for k, v in sorted(algorithm.parameters.items())},
            # weights:<file>, torch, device (issue 11 AI1); a SHA-256 fills an LO exactly.
            **dict(text.split("=", 1) for text in algorithm.accountability_texts()),
        }
        or None,
    )


def _description(number: int, finding: ReportedFinding) -> hd.seg.SegmentDescription:
    algorithm = finding.algorithm
    if algorithm is None:
        kind, identification = hd.seg.SegmentAlgorithmTypeValues.MANUAL, None
    else:
        kind = (
            hd.seg.SegmentAlgorithmTypeValues.SEMIAUTOMATIC
            if finding.edited
            else hd.seg.SegmentAlgorithmTypeValues.AUTOMATIC
        )
        identification = algorithm_identification(algorithm)
    return hd.seg.SegmentDescription(
        segment_number=number,
        segment_label=finding.label[:64],
        segmented_property_category=codes.ABNORMAL_STRUCTURE,
        segmented_property_type=codes.coded(finding.code, codes.NODULE),
        algorithm_type=kind,
        algorithm_identification=identification,
        tracking_uid=finding.tracking_uid,
        tracking_id=f"Finding {finding.id}"[:64],
        anatomic_regions=[codes.coded(finding.site, codes.LUNG)],
    )


def _algorithms(source: ReportModel | Sequence[Algorithm]) -> list[Algorithm]:
    return source.algorithms() if isinstance(source, ReportModel) else list(source)


def contributing_equipment(
    model: ReportModel | Sequence[Algorithm],
) -> list[hd.ContributingEquipment]:
    """One item per algorithm (IHE AIR): manufacturer, model name, software version.

    ``model``: a report (its algorithms) or the algorithms themselves.
    """
    return [
        hd.ContributingEquipment(
            manufacturer=algorithm.manufacturer[:64] or "unknown",
            purpose_of_reference=codes.PROCESSING_EQUIPMENT,
            manufacturer_model_name=algorithm.name[:64],
            software_versions=algorithm.version[:64],
            contribution_description=_contribution(algorithm),
        )
        for algorithm in _algorithms(model)
    ]


def set_character_set(dataset) -> None:
    """Declare the Specific Character Set (PS3.3 C.12.1.1.2) the text of ``dataset`` needs.

    A reader's Chinese name or impression, or a patient name from a GB18030 series, is
    written as typed only with UTF-8 ("ISO_IR 192"); without it pydicom encodes Latin-1 and
    replaces such text with "?". Plain text keeps the default repertoire (or Latin-1, "ISO_IR
    100"), which every validator knows (dcmtk warns that it cannot check UTF-8 values).
    """
    texts: list[str] = []

    def walk(ds) -> None:
        for element in ds:
            if element.VR == "SQ":
                for item in element.value:
                    walk(item)
            elif element.VR in ("SH", "LO", "ST", "LT", "UT", "PN", "UC") and element.value:
                values = element.value if element.VM > 1 else [element.value]
                texts.extend(str(v) for v in values)

    walk(dataset)
    joined = "".join(texts)
    if joined.isascii():
        return
    try:
        joined.encode("latin-1")
        dataset.SpecificCharacterSet = "ISO_IR 100"
    except UnicodeEncodeError:
        dataset.SpecificCharacterSet = "ISO_IR 192"


def add_device_uids(dataset, model: ReportModel | Sequence[Algorithm]) -> None:
    """Device UID (0018,1002) in each Contributing Equipment item: changes with the weights."""
    # highdicom adds items of its own (the source images' scanner, itself): match ours by
    # their Contribution Description.
    by_description = {_contribution(a): a for a in _algorithms(model)}
    for item in dataset.get("ContributingEquipmentSequence", []):
        algorithm = by_description.get(str(item.get("ContributionDescription", "")))
        if algorithm is not None:
            item.DeviceUID = algorithm.device_uid


def _contribution(algorithm: Algorithm) -> str:
    return f"AI plugin {algorithm.plugin_id}"[:64]


def build_seg(
    model: ReportModel,
    sources: SourceImages,
    *,
    series_uid: str,
    sop_uid: str,
    series_number: int = 901,
) -> SegResult | None:
    """The Segmentation of the reported findings' masks; None when no finding has a mask."""
    with_mask = [f for f in model.reported_findings() if f.mask is not None]
    if not with_mask:
        return None
    shape = sources.volume.shape
    masks = []
    for finding in with_mask:
        mask = np.asarray(finding.mask, dtype=bool)
        if mask.shape != shape:
            raise ValueError(f"mask of finding {finding.id} is {mask.shape}, not the grid {shape}")
        masks.append(mask)
    # Only the slices a mask touches: a 300-slice study with a few nodules stays small (the
    # SEG references those source images; PS3.3 C.8.20.2 needs no more).
    slices = sorted({int(k) for mask in masks for k in np.flatnonzero(mask.any(axis=(1, 2)))})
    if not slices:
        return None
    pixels = np.zeros((len(slices), shape[1], shape[2], len(masks)), dtype=bool)
    for index, mask in enumerate(masks):
        pixels[..., index] = mask[slices]
    descriptions = [_description(n, f) for n, f in enumerate(with_mask, start=1)]
    # Frames of a multi-frame source (Enhanced CT): the image once, and each SEG frame's
    # position, by which highdicom matches it to its source frame (PS3.3 C.8.20.2).
    positions = (
        [
            hd.PlanePositionSequence(
                hd.CoordinateSystemNames.PATIENT,
                [float(v) for v in sources.volume.index_to_lps(np.array([0.0, 0.0, k]))],
            )
            for k in slices
        ]
        if sources.multiframe
        else None
    )
    seg = hd.seg.Segmentation(
        source_images=sources.unique_datasets(slices),
        pixel_array=pixels,
        plane_positions=positions,
        segmentation_type=hd.seg.SegmentationTypeValues.BINARY,
        segment_descriptions=descriptions,
        series_instance_uid=series_uid,
        series_number=series_number,
        sop_instance_uid=sop_uid,
        instance_number=1,
        manufacturer="medview",
        manufacturer_model_name="medview",
        software_versions=__version__,
        device_serial_number="none",
        content_label="FINDINGS",
        content_description="Masks of the reported findings"[:64],
        content_creator_name=model.reader or None,
        contributing_equipment=contributing_equipment(model) or None,
        series_description="medview report segmentation",
    )
    add_device_uids(seg, model)
    set_character_set(seg)
    return SegResult(seg, {f.id: n for n, f in enumerate(with_mask, start=1)})
