"""The source images a report refers to, in the Volume's slice order.

SR evidence, the SR image library (TID 1600), SEG source images and region references all
point at the acquired images by SOP Instance UID. The Volume knows the UID of each ``k``
slice (``meta.source_sop_uids``); this class pairs those with the datasets (headers are
enough: pixel data is only read when de-identified copies of the images are exported).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pydicom
from pydicom.dataset import Dataset

from medview.core.errors import MedviewError
from medview.imaging.volume import Volume


@dataclass(frozen=True, eq=False)
class SourceImages:
    """Datasets of the source series, one per ``k`` slice of ``volume``."""

    volume: Volume
    datasets: tuple[Dataset, ...]
    paths: tuple[Path, ...] = ()

    def __post_init__(self) -> None:
        nk = self.volume.shape[0]
        if len(self.datasets) != nk:
            raise MedviewError(
                f"the report needs the source image of each of the {nk} slices, got "
                f"{len(self.datasets)}"
            )

    @property
    def multiframe(self) -> bool:
        """Whether the slices are frames of multi-frame images (e.g. an Enhanced CT): the
        same dataset then stands for many ``k`` and references need frame numbers."""
        return bool(self.volume.meta.source_frames)

    def frame_number(self, k: int) -> int | None:
        """Frame Number (1-based) of slice ``k`` in its image; None for single-frame."""
        frames = self.volume.meta.source_frames
        return int(frames[k]) if frames else None

    def unique_datasets(self, slices: Sequence[int] | None = None) -> list[Dataset]:
        """The distinct images behind ``slices`` (all by default), in slice order: one per
        slice for single-frame sources, the multi-frame image once for its frames."""
        seen: dict[str, Dataset] = {}
        for k in range(len(self.datasets)) if slices is None else slices:
            ds = self.datasets[k]
            seen.setdefault(str(ds.SOPInstanceUID), ds)
        return list(seen.values())

    def unique_paths(self) -> list[Path]:
        """The distinct files of the source images (a multi-frame file once)."""
        return list(dict.fromkeys(self.paths))

    @classmethod
    def read(cls, volume: Volume, paths: Sequence[str | Path]) -> SourceImages:
        """Read the headers of ``paths`` (any order) and order them like ``volume``'s slices.

        Raises
        ------
        MedviewError
            A slice's SOP Instance UID is not among the files, or a file is unreadable.
        """
        by_uid: dict[str, tuple[Dataset, Path]] = {}
        for path in paths:
            try:
                ds = pydicom.dcmread(path, stop_before_pixels=True)
            except Exception as exc:  # pydicom raises many types for damaged files
                raise MedviewError(f"cannot read the source image ({exc})", path) from None
            by_uid[str(ds.SOPInstanceUID)] = (ds, Path(path))
        ordered = []
        for k, uid in enumerate(volume.meta.source_sop_uids):
            if uid not in by_uid:
                raise MedviewError(f"slice {k} (SOP Instance UID {uid}) is not among the files")
            ordered.append(by_uid[uid])
        if not ordered:
            raise MedviewError("the volume names no source images (meta.source_sop_uids)")
        return cls(volume, tuple(d for d, _ in ordered), tuple(p for _, p in ordered))

    def slice_index(self, lps: Sequence[float]) -> int:
        """The nearest ``k`` slice to an LPS point, clipped into the volume."""
        k = float(self.volume.lps_to_index(np.asarray(lps, dtype=float))[2])
        return int(np.clip(round(k), 0, self.volume.shape[0] - 1))

    def dataset_at(self, lps: Sequence[float]) -> Dataset:
        return self.datasets[self.slice_index(lps)]

    def by_uid(self, sop_uid: str) -> Dataset | None:
        for ds in self.datasets:
            if ds.SOPInstanceUID == sop_uid:
                return ds
        return None

    def pixel_xy(self, lps: Sequence[float]) -> tuple[float, float]:
        """(column, row) pixel coordinates of an LPS point on its slice (SCOORD, PS3.3 C.18.6).

        SCOORD puts the top left corner of the top left pixel at (0, 0), so a voxel centre
        index ``i`` is at ``i + 0.5``.
        """
        i, j, _ = self.volume.lps_to_index(np.asarray(lps, dtype=float))
        return float(i) + 0.5, float(j) + 0.5
