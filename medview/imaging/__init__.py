"""Voxel data with patient geometry: the Volume type and geometry helpers. numpy/SimpleITK only."""

from medview.imaging.volume import Volume, VolumeMeta

__all__ = ["Volume", "VolumeMeta"]
