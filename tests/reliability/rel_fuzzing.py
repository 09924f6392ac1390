"""A seeded mutator of real DICOM files and a runner that feeds them to worker processes.

Issue 11, R3. Why worker processes with a wall-clock deadline and not hypothesis in-process:
a hang (a decoder looping on a hostile length) cannot be interrupted inside Python, a crash
in a C decoder would take pytest down, and peak RSS must be measured for the load path alone.
Each worker is a fresh interpreter (``fuzz_worker.py``) that loads one input at a time; the
parent waits at most ``deadline`` seconds per input, kills and replaces a worker that does not
answer, and polls its RSS so a runaway allocation is stopped (and reported) before it hurts
the machine. Input ``i`` is generated from ``random.Random(seed * 1_000_003 + i)``, so any
finding is reproduced by its index alone (:func:`mutate`).
"""

from __future__ import annotations

import json
import os
import random
import selectors
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from pydicom.data import get_testdata_file

#: Real files, one per encoding the loader handles differently (PS3.5 A.1-A.4 and A.5).
SEED_NAMES = (
    "CT_small.dcm",  # Explicit VR Little Endian: the native read-into path
    "MR_small_implicit.dcm",  # Implicit VR Little Endian
    "MR_small_bigendian.dcm",  # Explicit VR Big Endian: pydicom path
    "JPEG2000.dcm",  # JPEG 2000
    "MR_small_jp2klossless.dcm",  # JPEG 2000 lossless
    "MR_small_RLE.dcm",  # RLE lossless
    "SC_rgb_rle_2frame.dcm",  # RLE, RGB, multi-frame
    "MR_small_jpeg_ls_lossless.dcm",  # JPEG-LS
    "SC_rgb_jpeg_dcmtk.dcm",  # JPEG baseline, YBR
    "JPEG-lossy.dcm",  # JPEG extended 12-bit
    "image_dfl.dcm",  # Deflated Explicit VR Little Endian
    "rtdose.dcm",  # multi-frame with Grid Frame Offset Vector
    "liver_1frame.dcm",  # enhanced CT: functional groups
)

#: Values planted into the elements that size the image and the stream (R3 + R6 paths).
_SIZE_TAGS = {
    b"\x28\x00\x10\x00": "US",  # Rows
    b"\x28\x00\x11\x00": "US",  # Columns
    b"\x28\x00\x00\x01": "US",  # BitsAllocated
    b"\x28\x00\x01\x01": "US",  # BitsStored
    b"\x28\x00\x02\x00": "US",  # SamplesPerPixel
    b"\x28\x00\x03\x01": "US",  # PixelRepresentation
    b"\x28\x00\x06\x00": "US",  # PlanarConfiguration
    b"\x28\x00\x08\x00": "IS",  # NumberOfFrames
    b"\x28\x00\x04\x00": "CS",  # PhotometricInterpretation
    b"\x20\x00\x32\x00": "DS",  # ImagePositionPatient
    b"\x20\x00\x37\x00": "DS",  # ImageOrientationPatient
    b"\x04\x30\x0c\x00": "DS",  # GridFrameOffsetVector (RT Dose frames)
    b"\x18\x00\x88\x00": "DS",  # SpacingBetweenSlices
    b"\x28\x00\x30\x00": "DS",  # PixelSpacing
    b"\x18\x00\x50\x00": "DS",  # SliceThickness
    b"\x28\x00\x52\x10": "DS",  # RescaleIntercept
    b"\x28\x00\x53\x10": "DS",  # RescaleSlope
    b"\x02\x00\x10\x00": "UI",  # TransferSyntaxUID
    b"\xe0\x7f\x10\x00": "OB",  # PixelData (its length)
    b"\xfe\xff\x00\xe0": "ITEM",  # item / fragment lengths
}
_US_VALUES = (0, 1, 2, 3, 7, 8, 9, 15, 16, 17, 24, 32, 33, 64, 255, 0x7FFF, 0x8000, 0xFFFF)
_U32_VALUES = (0, 1, 2, 3, 4, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFE, 0xFFFFFFFF, 0xFFFF, 1 << 20)
_TEXT_VALUES = (
    b"0", b"-1", b"9", b"99999999", b"2147483647", b"1e308", b"NaN", b"inf", b"-0", b"\\",
    b"1\\1", b"0\\0\\0\\0\\5", b"1e300\\-1e300", b"", b"\x00", b"RGB", b"PALETTE COLOR", b"YBR_FULL_422", b"MONOCHROME1",
    b"1.2.840.10008.1.2.5", b"1.2.840.10008.1.2.4.50", b"1.2.840.10008.1.2.1.99",
    b"1.2.840.10008.1.2", b"1.2.840.10008.1.2.2", b"1.2.840.10008.1.2.4.90",
)  # fmt: skip


def seeds() -> dict[str, bytes]:
    return {name: Path(get_testdata_file(name)).read_bytes() for name in SEED_NAMES}


def mutate(seed_files: dict[str, bytes], seed: int, index: int) -> tuple[str, bytes]:
    """Input ``index`` of campaign ``seed``: (seed file name, mutated bytes)."""
    rng = random.Random(seed * 1_000_003 + index)
    name = SEED_NAMES[index % len(SEED_NAMES)]
    data = bytearray(seed_files[name])
    for _ in range(rng.choice((1, 1, 1, 2, 2, 3, 5, 8))):
        _one_mutation(rng, data)
        if len(data) < 8:
            break
    return name, bytes(data)


def _one_mutation(rng: random.Random, data: bytearray) -> None:
    kind = rng.random()
    size = len(data)
    # Most of what decides a load sits in the header: bias positions towards it.
    header_end = min(size, 132 + rng.choice((256, 1024, 4096, size)))
    where = rng.randrange(132, max(133, header_end)) if size > 133 else 0
    if kind < 0.40:
        _structured(rng, data)
    elif kind < 0.60:
        for _ in range(rng.randint(1, 4)):
            data[rng.randrange(size)] ^= 1 << rng.randrange(8)
    elif kind < 0.70:
        data[where : where + 4] = rng.choice(_U32_VALUES).to_bytes(4, "little")
    elif kind < 0.78:
        del data[rng.randrange(132, size) if size > 133 else 0 :]
    elif kind < 0.86:
        start = rng.randrange(size)
        del data[start : start + rng.randint(1, 64)]
    elif kind < 0.93:
        start = rng.randrange(size)
        chunk = data[start : start + rng.randint(1, 256)]
        data[start:start] = chunk * rng.randint(1, 4)
    else:
        data[where:where] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 16)))


def _structured(rng: random.Random, data: bytearray) -> None:
    """Overwrite the value or length of an element that sizes or routes the decode."""
    tag = rng.choice(list(_SIZE_TAGS))
    hits = []
    start = data.find(tag, 128)
    while start >= 0 and len(hits) < 32:
        hits.append(start)
        start = data.find(tag, start + 1)
    if not hits:
        return
    position = rng.choice(hits)
    kind = _SIZE_TAGS[tag]
    explicit = data[position + 4 : position + 6].isalpha()
    value_at = position + (12 if kind in ("OB", "ITEM") and explicit else 8)
    if kind == "ITEM":
        value_at = position + 4
    if kind == "US":
        data[value_at : value_at + 2] = rng.choice(_US_VALUES).to_bytes(2, "little")
    elif kind in ("OB", "ITEM"):
        length_at = value_at - 4
        data[length_at : length_at + 4] = rng.choice(_U32_VALUES).to_bytes(4, "little")
    else:
        length = int.from_bytes(data[position + 6 : position + 8], "little") if explicit else 0
        length = length or int.from_bytes(data[position + 4 : position + 8], "little")
        length = min(length, 64)
        text = rng.choice(_TEXT_VALUES)
        if rng.random() < 0.7:  # keep the element's length: reaches the decoder more often
            text = text[:length].ljust(length, b" " if kind != "UI" else b"\x00")
        data[value_at : value_at + length] = text


@dataclass
class Finding:
    index: int
    seed_name: str
    outcome: str  # escaped, bad-message, hang, crash, rss
    detail: str
    seconds: float


@dataclass
class Campaign:
    inputs: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)
    findings: list[Finding] = field(default_factory=list)
    slowest: list[tuple[float, int, str]] = field(default_factory=list)
    peak_rss_kib: int = 0
    wall_seconds: float = 0.0
    worker_restarts: int = 0


_WORKER = Path(__file__).with_name("fuzz_worker.py")


class _Worker:
    def __init__(self) -> None:
        env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
        self.proc = subprocess.Popen(
            [sys.executable, str(_WORKER)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=env,
        )
        self.buffer = b""
        self.job: tuple[int, str, float] | None = None  # index, seed name, start
        self.ready = False
        self.peak_kib = 0

    def send(self, index: int, seed_name: str, path: Path) -> None:
        self.job = (index, seed_name, time.monotonic())
        assert self.proc.stdin is not None
        self.proc.stdin.write(f"{path}\n".encode())
        self.proc.stdin.flush()

    def status_kib(self, field_name: str) -> int:
        try:
            for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
                if line.startswith(field_name + ":"):
                    return int(line.split()[1])
        except (OSError, ValueError):
            pass
        return 0

    def kill(self) -> None:
        self.peak_kib = max(self.peak_kib, self.status_kib("VmHWM"))
        self.proc.kill()
        self.proc.wait()


def run_campaign(
    count: int,
    workdir: Path,
    *,
    seed: int = 11,
    workers: int = 2,
    deadline: float = 5.0,
    rss_limit_kib: int = 512 * 1024,
    rss_kill_kib: int = 1536 * 1024,
) -> Campaign:
    """Feed ``count`` mutated inputs to ``workers`` worker processes; collect the outcomes."""
    seed_files = seeds()
    campaign = Campaign()
    started = time.monotonic()
    selector = selectors.DefaultSelector()
    pool: list[_Worker] = []
    next_index = 0
    done = 0

    def spawn() -> _Worker:
        worker = _Worker()
        assert worker.proc.stdout is not None
        os.set_blocking(worker.proc.stdout.fileno(), False)
        selector.register(worker.proc.stdout, selectors.EVENT_READ, worker)
        pool.append(worker)
        return worker

    def retire(worker: _Worker) -> None:
        selector.unregister(worker.proc.stdout)
        worker.kill()
        campaign.peak_rss_kib = max(campaign.peak_rss_kib, worker.peak_kib)
        pool.remove(worker)

    def record(worker: _Worker, outcome: str, detail: str, seconds: float) -> None:
        nonlocal done
        assert worker.job is not None
        index, seed_name, _ = worker.job
        worker.job = None
        done += 1
        campaign.outcomes[outcome] = campaign.outcomes.get(outcome, 0) + 1
        if outcome not in ("ok", "refused"):
            campaign.findings.append(Finding(index, seed_name, outcome, detail, seconds))
        campaign.slowest = sorted([*campaign.slowest, (seconds, index, seed_name)])[-5:]
        (workdir / f"{index}.dcm").unlink(missing_ok=True)

    def feed(worker: _Worker) -> None:
        nonlocal next_index
        if next_index >= count:
            return
        seed_name, payload = mutate(seed_files, seed, next_index)
        path = workdir / f"{next_index}.dcm"
        path.write_bytes(payload)
        worker.send(next_index, seed_name, path)
        next_index += 1

    for _ in range(workers):
        spawn()
    try:
        while done < count:
            for event, _ in selector.select(timeout=0.05):
                worker: _Worker = event.data
                try:
                    chunk = os.read(event.fd, 1 << 16)
                except BlockingIOError:
                    continue
                if not chunk:  # the worker died: a crash in native code
                    if worker.job is not None:
                        code = worker.proc.poll()
                        elapsed = time.monotonic() - worker.job[2]
                        record(worker, "crash", f"worker exited with {code}", elapsed)
                    retire(worker)
                    campaign.worker_restarts += 1
                    spawn()
                    continue
                worker.buffer += chunk
                while b"\n" in worker.buffer:
                    line, worker.buffer = worker.buffer.split(b"\n", 1)
                    answer = json.loads(line)
                    if answer.get("ready"):
                        worker.ready = True
                    else:
                        campaign.peak_rss_kib = max(campaign.peak_rss_kib, answer["maxrss_kib"])
                        over = answer["maxrss_kib"] > rss_limit_kib
                        if over:  # ru_maxrss only grows: blame this input, then start afresh
                            answer["outcome"] = "rss"
                            answer["detail"] = f"peak RSS {answer['maxrss_kib'] // 1024} MiB"
                        record(worker, answer["outcome"], answer["detail"], answer["seconds"])
                        if over:
                            retire(worker)
                            campaign.worker_restarts += 1
                            spawn()
                            break
            now = time.monotonic()
            for worker in list(pool):
                if worker.job is None:
                    if worker.ready:
                        feed(worker)
                    continue
                elapsed = now - worker.job[2]
                rss = worker.status_kib("VmRSS")
                if elapsed > deadline or rss > rss_kill_kib:
                    outcome = "hang" if elapsed > deadline else "rss"
                    detail = f"no answer after {elapsed:.1f} s, RSS {rss // 1024} MiB"
                    record(worker, outcome, detail, elapsed)
                    retire(worker)
                    campaign.worker_restarts += 1
                    spawn()
    finally:
        for worker in list(pool):
            campaign.peak_rss_kib = max(campaign.peak_rss_kib, worker.status_kib("VmHWM"))
            retire(worker)
        selector.close()
    campaign.inputs = done
    campaign.wall_seconds = time.monotonic() - started
    return campaign
