"""DICOM Parametric Maps of the attribution maps that explain findings (PS3.3 A.75, highdicom).

An explanation plugin (``medview.saliency``) gives each explained finding a float map on the
source series' grid (:class:`~medview.reports.model.Explanation`). Each becomes one
multi-frame Parametric Map so that other viewers (Weasis, Slicer) can show it over the CT:

- frames: the source CT slices the map touches, cropped to the map's in-plane box (a 64-voxel
  patch in a 300-slice 512 x 512 study stays at about 1 MiB), float32 pixels (Float Pixel
  Data, 32 bits), each frame with its own position and referencing its source slice
  (Derivation Image / Source Image Sequences) in the source's Frame of Reference;
- Real World Value Mapping (PS3.3 C.7.6.16.2.11): identity on the stored floats, unit UCUM
  "1" (no units: attributions are relative), quantity DCM 130402 "Class activation" (DCM
  130403 "Gradient-weighted class activation" for Grad-CAM; see :mod:`.codes`);
- Image Type DERIVED\\PRIMARY\\VOLUME\\RESAMPLED (highdicom's image flavor and derived pixel
  contrast: a volume map, resampled from the plugin's patch onto the CT grid), Frame Anatomy
  chest (unpaired), Content Qualification RESEARCH, content label ``<METHOD>_MAP``, content
  description naming method, plugin and finding, series description "AI saliency - not for
  diagnosis";
- the explanation plugin in the Contributing Equipment Sequence with its Device UID (plugin
  id, version and weights SHA-256: the same items as in the SR and SEG, :mod:`.seg`).

The SR's measurement group of the finding points at its map (:func:`explanation_item`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import highdicom as hd
import numpy as np
from pydicom.dataset import Dataset
from pydicom.uid import generate_uid

from medview import __version__
from medview.reports import codes
from medview.reports.model import METHOD_NAMES, ReportedFinding, ReportModel
from medview.reports.seg import add_device_uids, contributing_equipment, set_character_set
from medview.reports.sources import SourceImages

SERIES_DESCRIPTION = "AI saliency - not for diagnosis"  # ASCII: default character repertoire


def quantity(method: str) -> hd.sr.CodedConcept:
    """The RWVM quantity of a ``method``'s map (CID 7180)."""
    return codes.GRADCAM_ACTIVATION if method == "gradcam" else codes.CLASS_ACTIVATION


def _value_mapping(values: np.ndarray, method: str) -> hd.pm.RealWorldValueMapping:
    low, high = float(values.min()), float(values.max())
    if low == high:  # a flat map still needs a range that contains its value
        low, high = low - 0.5, high + 0.5
    return hd.pm.RealWorldValueMapping(
        lut_label="ATTRIBUTION",
        lut_explanation=f"{METHOD_NAMES.get(method, method)} attribution (relative)"[:64],
        unit=codes.NO_UNITS,
        value_range=(low, high),  # floats: Double Float Real World Value First/Last Mapped
        slope=1.0,
        intercept=0.0,
        quantity_definition=quantity(method),
    )


def _window(values: np.ndarray) -> hd.VOILUTTransformation:
    """Display window over the map's range (all of it, zero in the middle when signed)."""
    peak = float(np.abs(values).max()) or 1.0
    low = -peak if float(values.min()) < 0 else 0.0
    # Attributions are small floats (a Grad-CAM map spans about 0..0.3): a Window Width
    # below 1 is allowed only with VOI LUT Function LINEAR_EXACT (PS3.3 C.11.2.1.2.2), the
    # exact linear mapping of the range, which is what a float map wants anyway.
    return hd.VOILUTTransformation(
        window_center=(low + peak) / 2,
        window_width=peak - low,
        window_explanation="attribution range",
        voi_lut_function="LINEAR_EXACT",
    )


def build_pmap(
    finding: ReportedFinding,
    sources: SourceImages,
    *,
    series_uid: str,
    sop_uid: str,
    instance_number: int = 1,
    series_number: int = 903,
    content_creator: str = "",
) -> hd.pm.ParametricMap | None:
    """The Parametric Map of ``finding``'s explanation; None when it has none or it is all 0.

    Raises
    ------
    ValueError
        The map is not on the grid of ``sources``.
    """
    explanation = finding.explanation
    if explanation is None:
        return None
    array = np.asarray(explanation.array, dtype=np.float32)
    if array.shape != sources.volume.shape:
        raise ValueError(
            f"the explanation of finding {finding.id} is {array.shape}, "
            f"not the grid {sources.volume.shape}"
        )
    slices = [int(k) for k in np.flatnonzero(np.any(array != 0, axis=(1, 2)))]
    if not slices:
        return None
    # Frames cropped to the map's in-plane box: a 64-voxel patch on 512 x 512 slices is
    # 64 x 64 floats a frame, not 1 MiB. Each frame keeps its own position (PS3.3 C.7.6.16.2.3)
    # and references its source slice (Spatial Locations Preserved NO: a crop).
    rows, cols = np.flatnonzero(array.any(axis=(0, 2))), np.flatnonzero(array.any(axis=(0, 1)))
    j0, j1, i0, i1 = int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1
    pixels = np.ascontiguousarray(array[slices, j0:j1, i0:i1])
    volume = sources.volume
    positions = [
        hd.PlanePositionSequence(
            hd.CoordinateSystemNames.PATIENT,
            [float(v) for v in volume.index_to_lps(np.array([i0, j0, k], dtype=float))],
        )
        for k in slices
    ]
    thickness = sources.datasets[slices[0]].get("SliceThickness") or volume.spacing[2]
    measures = hd.PixelMeasuresSequence(
        pixel_spacing=[float(volume.spacing[1]), float(volume.spacing[0])],  # row, column
        slice_thickness=float(thickness),
        spacing_between_slices=float(volume.spacing[2]),
    )
    method = explanation.method
    algorithm = finding.algorithm
    plugin = f"{algorithm.plugin_id} {algorithm.version}" if algorithm else "unknown plugin"
    description = f"{METHOD_NAMES.get(method, method)} by {plugin}, finding {finding.id}"
    pm = hd.pm.ParametricMap(
        source_images=sources.unique_datasets(slices),
        pixel_array=pixels,
        plane_positions=positions,
        pixel_measures=measures,
        series_instance_uid=series_uid,
        series_number=series_number,
        sop_instance_uid=sop_uid,
        instance_number=instance_number,
        manufacturer="medview",
        manufacturer_model_name="medview",
        software_versions=__version__,
        device_serial_number="none",
        contains_recognizable_visual_features=False,
        real_world_value_mappings=[_value_mapping(pixels, method)],
        voi_lut_transformations=[_window(pixels)],
        content_label=re.sub(r"[^A-Z0-9_]", "_", f"{method}_MAP".upper())[:16],  # CS
        content_description=description[:64],
        content_creator_name=content_creator or None,
        content_qualification=hd.ContentQualificationValues.RESEARCH,
        image_flavor=hd.pm.ImageFlavorValues.VOLUME,
        # The explanation plugin resamples its patch map onto the CT grid (Image Type value
        # 4, PS3.3 C.8.32.3.1); dciodvfy does not know QUANTITY (MR's term) for a CT.
        derived_pixel_contrast=hd.pm.DerivedPixelContrastValues.RESAMPLED,
        contributing_equipment=contributing_equipment([algorithm]) if algorithm else None,
        series_description=SERIES_DESCRIPTION,
    )
    if algorithm is not None:
        add_device_uids(pm, [algorithm])
    pm.SharedFunctionalGroupsSequence[0].FrameAnatomySequence = [_frame_anatomy()]
    set_character_set(pm)
    return pm


def _frame_anatomy() -> Dataset:
    """Frame Anatomy (PS3.3 C.7.6.16.2.8): the chest, unpaired.

    Without it (or a General Series Laterality) the Laterality condition of the IOD is not
    met (dciodvfy: missing Type 2C Laterality); a chest is unpaired, so U.
    """
    item = Dataset()
    item.AnatomicRegionSequence = [codes.CHEST]
    item.FrameLaterality = "U"
    return item


def build_pmaps(
    model: ReportModel, sources: SourceImages, *, series_uid: str | None = None
) -> dict[str, hd.pm.ParametricMap]:
    """Finding id -> Parametric Map, for every reported finding with an explanation.

    All maps of one export form one series (instance numbers in finding order).
    """
    series_uid = series_uid or generate_uid()
    maps: dict[str, hd.pm.ParametricMap] = {}
    for finding in model.reported_findings():
        pm = build_pmap(
            finding,
            sources,
            series_uid=series_uid,
            sop_uid=generate_uid(),
            instance_number=len(maps) + 1,
            content_creator=model.reader,
        )
        if pm is not None:
            maps[finding.id] = pm
    return maps


def explanation_item(pm: Dataset) -> hd.sr.ImageContentItem:
    """SR IMAGE item (CONTAINS) in a finding's measurement group naming its Parametric Map.

    TID 1410 / 1411 are extensible templates; the concept name is DCM 130401 "Visual
    explanation" (:data:`medview.reports.codes.VISUAL_EXPLANATION`).
    """
    return hd.sr.ImageContentItem(
        name=codes.VISUAL_EXPLANATION,
        referenced_sop_class_uid=pm.SOPClassUID,
        referenced_sop_instance_uid=pm.SOPInstanceUID,
        relationship_type=hd.sr.RelationshipTypeValues.CONTAINS,
    )


def file_names(finding_ids: Iterable[str]) -> dict[str, str]:
    """Finding id -> ``report-pm-NNN.dcm`` (NNN: 1-based, in the order given)."""
    return {fid: f"report-pm-{n:03d}.dcm" for n, fid in enumerate(finding_ids, start=1)}
