"""Load a :class:`~medview.dicom.series.Candidate` into a :class:`~medview.imaging.Volume`.

Memory and speed (issue 2): the output array is allocated once; uncompressed slices are read
straight into it by a small thread pool (file reads and numpy release the GIL); compressed
files are decoded by pydicom, in worker processes when there are many of them. CT values are
stored as int16 Hounsfield units whenever the modality LUT is integral and the values fit, so
a 512x512x300 series costs 150 MiB, not the 300 MiB of float32.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass, replace

import numpy as np

from medview.core.errors import DicomLoadError
from medview.dicom import pixels
from medview.dicom.header import InstanceHeader
from medview.dicom.limits import check_budget
from medview.dicom.regularize import regularize_spacing, remove_tilt
from medview.dicom.scan import pool_context
from medview.dicom.series import Candidate
from medview.dicom.writer import NOT_FOR_DIAGNOSIS
from medview.imaging.volume import Volume, VolumeMeta, WindowPreset

ProgressFn = Callable[[float], None]
CancelFn = Callable[[], None]

#: Series in a CPU-heavy codec with at least this many files are decoded in worker processes.
PROCESS_POOL_MIN_FILES = 16
#: JPEG 2000 and HTJ2K (PS3.5 A.4.4, A.4.11): ~50 ms a 512x512 slice, GIL-bound in pylibjpeg,
#: so only processes scale. RLE (~4 ms) and JPEG decode faster than a process can ship the
#: array back (measured in tests/benchmarks/test_load_speed.py), so they stay in-process.
_SLOW_CODECS = {
    "1.2.840.10008.1.2.4.90", "1.2.840.10008.1.2.4.91", "1.2.840.10008.1.2.4.92",
    "1.2.840.10008.1.2.4.93", "1.2.840.10008.1.2.4.201", "1.2.840.10008.1.2.4.202",
    "1.2.840.10008.1.2.4.203",
}  # fmt: skip


class _OutOfRange(Exception):
    """A slice's values do not fit the optimistic int16 output; reload as float32."""


@dataclass(frozen=True)
class _Plan:
    dtype: np.dtype
    color: bool


def default_workers() -> int:
    return max(1, min(4, os.cpu_count() or 1))


def load_candidate(
    candidate: Candidate,
    *,
    workers: int | None = None,
    progress: ProgressFn | None = None,
    cancel: CancelFn | None = None,
) -> Volume:
    """Decode the candidate's pixels into one Volume (HU for CT), regularizing if needed."""
    plan = _plan(candidate)
    try:
        array = _decode(candidate, plan, workers, progress, cancel)
    except _OutOfRange:
        plan = _Plan(np.dtype(np.float32), plan.color)
        array = _decode(candidate, plan, workers, progress, cancel)
    origin, spacing = candidate.origin, candidate.spacing
    if candidate.regularize and candidate.positions is not None:
        if "tilt" in candidate.regularize:
            array = remove_tilt(array, candidate.positions, candidate.direction, spacing)
        if "spacing" in candidate.regularize:
            array = regularize_spacing(
                array, candidate.positions, candidate.direction, spacing[2], candidate.first.path
            )
    return Volume(array, spacing, origin, candidate.direction, _meta(candidate, plan))


def _plan(candidate: Candidate) -> _Plan:
    first = candidate.first
    color = first.samples_per_pixel == 3 or first.photometric == "PALETTE COLOR"
    if color:
        return _Plan(np.dtype(np.uint8), True)
    rescales = {_rescale(ref.header, ref.frame) for ref in candidate.slices}
    integral = all(
        float(slope).is_integer() and float(intercept).is_integer() for slope, intercept in rescales
    )
    if not integral or any(ref.header.has_modality_lut_sequence for ref in candidate.slices):
        return _Plan(np.dtype(np.float32), False)
    if first.bits_allocated > 16:
        return _Plan(np.dtype(np.float32), False)
    # Optimistic int16: each slice is checked while decoding and the load falls back to
    # float32 if a value does not fit (_OutOfRange).
    return _Plan(np.dtype(np.int16), False)


def _rescale(header: InstanceHeader, frame: int) -> tuple[float, float]:
    if header.frame_rescale and frame < len(header.frame_rescale):
        return header.frame_rescale[frame]
    return header.rescale_slope, header.rescale_intercept


def _decode(
    candidate: Candidate,
    plan: _Plan,
    workers: int | None,
    progress: ProgressFn | None,
    cancel: CancelFn | None,
) -> np.ndarray:
    shape = (len(candidate.slices), candidate.rows, candidate.columns) + (
        (3,) if plan.color else ()
    )
    # Issue 11, R6: the headers' claims against the budget, before np.empty. (np.empty alone
    # would often succeed, since pages are committed lazily, and fail later mid-decode.)
    check_budget(
        int(np.prod(shape, dtype=np.float64)) * plan.dtype.itemsize,
        f"a {shape} {plan.dtype} volume",
        candidate.first.path,
    )
    try:
        out = np.empty(shape, dtype=plan.dtype)
    except MemoryError as exc:
        raise DicomLoadError(
            f"not enough memory for a {shape} volume", candidate.first.path
        ) from exc
    native = [ref for ref in candidate.slices if not plan.color and pixels.native_dtype(ref.header)]
    by_file: dict[str, list[int]] = {}
    for k, ref in enumerate(candidate.slices):
        if plan.color or not pixels.native_dtype(ref.header):
            by_file.setdefault(ref.header.path, []).append(k)
    total = len(candidate.slices)
    done = 0

    lock = threading.Lock()  # slices finish on several threads; report them in order

    def report(count: int) -> None:
        nonlocal done
        with lock:
            done += count
            if progress is not None:
                progress(min(1.0, done / total))

    if native:
        native_slices = [
            k
            for k, ref in enumerate(candidate.slices)
            if not plan.color and pixels.native_dtype(ref.header)
        ]
        _decode_native(candidate, native_slices, out, plan, workers, report, cancel)
    if by_file:
        _decode_codecs(candidate, by_file, out, plan, workers, report, cancel)
    return out


def _decode_native(candidate, slice_indices, out, plan, workers, report, cancel) -> None:
    def one(k: int) -> None:
        if cancel is not None:
            cancel()
        ref = candidate.slices[k]
        stored = pixels.native_dtype(ref.header)
        slope, intercept = _rescale(ref.header, ref.frame)
        target = out[k]
        if plan.dtype == np.int16 and stored.itemsize == 2 and slope == 1:
            # Read the stored bytes straight into the output slice, then add the intercept in
            # place: no temporary. Unsigned values >= 32768 show up negative: check first.
            raw = target.view(stored)
            pixels.read_native_into(ref.header, raw, ref.frame)
            low, high = int(raw.min()), int(raw.max())
            unsigned_overflow = stored == np.dtype("<u2") and high > 32767
            if unsigned_overflow or low + intercept < -32768 or high + intercept > 32767:
                raise _OutOfRange
            if intercept:
                np.add(target, np.int16(intercept), out=target)
        else:
            raw = np.empty((candidate.rows, candidate.columns), dtype=stored)
            pixels.read_native_into(ref.header, raw, ref.frame)
            _store(target, raw, slope, intercept, plan)
        report(1)

    _run_all(one, slice_indices, workers)


def _store(
    target: np.ndarray, raw: np.ndarray, slope: float, intercept: float, plan: _Plan
) -> None:
    if plan.dtype == np.int16:
        values = raw.astype(np.int32) * int(slope) + int(intercept)
        if values.size and (values.min() < -32768 or values.max() > 32767):
            raise _OutOfRange
        target[...] = values
    else:
        np.multiply(raw, np.float32(slope), out=target, casting="unsafe")
        if intercept:
            target += np.float32(intercept)


def _run_all(function, items, workers: int | None) -> None:
    count = workers or default_workers()
    if count <= 1 or len(items) < 4:
        for item in items:
            function(item)
        return
    with ThreadPoolExecutor(max_workers=count, thread_name_prefix="medview-load") as pool:
        futures = [pool.submit(function, item) for item in items]
        try:
            for future in futures:
                future.result()
        except BaseException:
            for future in futures:
                future.cancel()
            raise


def _decode_codecs(candidate, by_file, out, plan, workers, report, cancel) -> None:
    paths = list(by_file)
    executor: Executor | None = None
    slow = sum(
        candidate.slices[by_file[p][0]].header.transfer_syntax_uid in _SLOW_CODECS for p in paths
    )
    if slow >= PROCESS_POOL_MIN_FILES and (workers or default_workers()) > 1:
        executor = ProcessPoolExecutor(
            max_workers=workers or default_workers(), mp_context=pool_context()
        )
    try:
        if executor is None:
            results = (pixels.decode_with_codecs(path) for path in paths)
        else:
            results = executor.map(pixels.decode_file_for_pool, paths, chunksize=2)
        for path, (frames, info) in zip(paths, results, strict=True):
            if cancel is not None:
                cancel()
            for k in by_file[path]:
                ref = candidate.slices[k]
                if ref.frame >= frames.shape[0]:
                    raise DicomLoadError(f"frame {ref.frame + 1} is missing", path)
                frame = frames[ref.frame]
                if frame.shape[:2] != (candidate.rows, candidate.columns):
                    raise DicomLoadError(
                        f"decoded frame is {frame.shape[:2]}, header says "
                        f"{(candidate.rows, candidate.columns)}",
                        path,
                    )
                if plan.color:
                    out[k] = _rgb8(frame, ref.header.bits_stored)
                elif info.get("lut_applied"):
                    out[k] = frame
                else:
                    slope, intercept = _rescale(ref.header, ref.frame)
                    _store(out[k], frame, slope, intercept, plan)
            report(len(by_file[path]))
    finally:
        if executor is not None:
            executor.shutdown(wait=True, cancel_futures=True)


def _rgb8(frame: np.ndarray, bits_stored: int) -> np.ndarray:
    """Colour frames for display as 8-bit RGB; 16/32-bit samples keep their top 8 bits."""
    if frame.ndim == 2:
        frame = np.repeat(frame[..., np.newaxis], 3, axis=2)
    if frame.dtype != np.uint8:
        shift = max(0, (bits_stored or frame.dtype.itemsize * 8) - 8)
        frame = (frame.astype(np.uint64) >> shift).clip(0, 255).astype(np.uint8)
    return frame


def _meta(candidate: Candidate, plan: _Plan) -> VolumeMeta:
    first = candidate.first
    windows = tuple(
        WindowPreset(center, width, _explanation(first, index))
        for index, (center, width) in enumerate(
            zip(first.window_centers, first.window_widths, strict=False)
        )
        if width > 0
    )
    header_warnings = [w for ref in candidate.slices for w in ref.header.warnings]
    units = "HU" if first.modality == "CT" and not plan.color else first.rescale_type
    # A series medview's AI wrote (writer.py marks it) is labelled AI-generated again when it
    # is reopened (issue 6). Other DERIVED images (a scanner's reformats) are not AI output.
    ai_output = first.image_type.upper().startswith("DERIVED") and (
        first.image_comments == NOT_FOR_DIAGNOSIS
    )
    return VolumeMeta(
        modality=first.modality,
        units=units,
        patient_name=first.patient_name,
        patient_id=first.patient_id,
        patient_sex=first.patient_sex,
        patient_age=first.patient_age,
        patient_birth_date=first.patient_birth_date,
        study_uid=first.study_uid,
        study_date=first.study_date,
        study_description=first.study_description,
        series_uid=first.series_uid,
        frame_of_reference_uid=first.frame_of_reference_uid,
        series_description=first.series_description,
        series_number=first.series_number,
        photometric="RGB" if plan.color else first.photometric,
        invert_display=first.photometric == "MONOCHROME1",
        windows=windows,
        source_sop_uids=tuple(ref.header.sop_instance_uid for ref in candidate.slices),
        source_frames=tuple(ref.frame + 1 for ref in candidate.slices)
        if any(ref.header.is_multiframe for ref in candidate.slices)
        else (),
        warnings=tuple(dict.fromkeys([*candidate.warnings, *header_warnings])),
        derived=ai_output,
        derivation=(first.derivation_description or "AI output") if ai_output else "",
    )


def _explanation(header: InstanceHeader, index: int) -> str:
    if index < len(header.window_explanations):
        return header.window_explanations[index]
    return f"DICOM preset {index + 1}"


def load_preview_slice(candidate: Candidate) -> Volume:
    """The candidate's middle slice alone, as a one-slice Volume at its true position.

    Decoding one slice takes milliseconds, so a viewer can show it while the whole series
    loads (issue 3, progressive loading: first image in under 0.5 s). The geometry is the
    full volume's with the origin moved to that slice, so the picture lands where the full
    volume's middle slice will.
    """
    # For a resampled series (gaps, tilt) this is the acquired slice nearest the middle, at
    # its own position: the preview never shows interpolated data.
    middle = len(candidate.slices) // 2
    ref = candidate.slices[middle]
    if candidate.positions is not None:
        origin = tuple(float(v) for v in candidate.positions[middle])
    else:
        step = candidate.direction[:, 2] * candidate.spacing[2] * middle
        origin = tuple(float(o + s) for o, s in zip(candidate.origin, step, strict=True))
    single = replace(candidate, slices=(ref,), positions=None, regularize=None, origin=origin)
    return load_candidate(single, workers=1)
