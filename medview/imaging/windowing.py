"""Grey-level window presets (CT), an automatic window (MR and the rest), and DICOM presets.

numpy only. A window is ``(centre, width)`` in the volume's units (HU for CT), as in the
DICOM VOI LUT module (PS3.3 C.11.2). The CT presets are the usual radiology values; each has
a number key (1-6) in the viewer.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from medview.imaging.volume import Volume


@dataclass(frozen=True)
class Preset:
    """A named window with its keyboard shortcut (a digit, or "" for none)."""

    name: str
    center: float
    width: float
    key: str = ""
    label: str = ""

    @property
    def window(self) -> tuple[float, float]:
        return (self.center, self.width)


#: CT presets, in the order of their number keys.
CT_PRESETS: tuple[Preset, ...] = (
    Preset("lung", -600.0, 1500.0, "1", "Lung"),
    Preset("mediastinum", 40.0, 400.0, "2", "Mediastinum"),
    Preset("bone", 400.0, 1800.0, "3", "Bone"),
    Preset("brain", 40.0, 80.0, "4", "Brain"),
    Preset("abdomen", 60.0, 400.0, "5", "Abdomen"),
    Preset("liver", 60.0, 160.0, "6", "Liver"),
)

#: Name of the automatic (histogram) window.
AUTO = "auto"

#: CT default when the series carries no window (soft tissue, centre 40 HU, width 400 HU).
CT_DEFAULT_WINDOW = (40.0, 400.0)


def preset_names() -> tuple[str, ...]:
    """Every name :func:`window_for` accepts besides a DICOM preset of the volume."""
    return (*(p.name for p in CT_PRESETS), AUTO)


def ct_preset(name_or_key: str) -> Preset | None:
    """The CT preset called ``name_or_key`` (case-insensitive) or bound to that digit."""
    wanted = name_or_key.strip().lower()
    for preset in CT_PRESETS:
        if wanted in (preset.name, preset.key):
            return preset
    return None


def auto_window(
    array: np.ndarray, low_percent: float = 1.0, high_percent: float = 99.5
) -> tuple[float, float]:
    """A window from the histogram: the 1st to 99.5th percentile of (a sample of) the voxels.

    Percentiles ignore the few hot voxels (vessels with contrast, metal, coil artefacts) that
    would flatten a min/max window; a sample of at most ~2 M voxels keeps it fast.
    """
    flat = np.asarray(array).reshape(-1)
    if flat.size == 0:
        return (0.5, 1.0)
    stride = max(1, flat.size // 2_000_000)
    low, high = (float(v) for v in np.percentile(flat[::stride], [low_percent, high_percent]))
    if high <= low:
        high = low + 1.0
    return (low + high) / 2.0, high - low


def dicom_presets(volume: Volume) -> tuple[Preset, ...]:
    """The file's own windows (Window Center/Width, PS3.3 C.11.2), named as in the file."""
    presets = []
    for number, window in enumerate(volume.meta.windows, start=1):
        name = window.name or f"DICOM {number}"
        presets.append(Preset(name, float(window.center), max(float(window.width), 1.0)))
    return tuple(presets)


def available_presets(volume: Volume) -> tuple[Preset, ...]:
    """What the viewer offers for ``volume``: CT presets for CT, then the file's own, then auto."""
    ct = CT_PRESETS if volume.meta.modality.upper() == "CT" else ()
    return (*ct, *dicom_presets(volume), Preset(AUTO, *auto_window(volume.array), "", "Auto"))


def window_for(volume: Volume, name: str) -> tuple[float, float]:
    """The window called ``name`` for ``volume``: a CT preset (name or digit), a DICOM preset
    of the file (by its name), or ``"auto"``.

    Raises
    ------
    KeyError
        When no such preset exists (the message lists the names that do).
    """
    wanted = name.strip().lower()
    if wanted == AUTO:
        return auto_window(volume.array)
    preset = ct_preset(wanted)
    if preset is not None:
        return preset.window
    for own in dicom_presets(volume):
        if own.name.lower() == wanted:
            return own.window
    known = ", ".join([*preset_names(), *(p.name for p in dicom_presets(volume))])
    raise KeyError(f"unknown window preset {name!r}; known: {known}")


def default_window(volume: Volume) -> tuple[float, float]:
    """(centre, width) to show first: the first DICOM preset, CT soft tissue, or auto."""
    own = dicom_presets(volume)
    if own:
        return own[0].window
    if volume.meta.modality.upper() == "CT":
        return CT_DEFAULT_WINDOW
    # Sample whole slices: enough for a histogram, fast on a 600-slice series.
    return auto_window(volume.array[:: max(1, volume.shape[0] // 16)])
