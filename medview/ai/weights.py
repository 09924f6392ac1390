"""Weights files: SHA-256 verification before use.

A weights file is code-adjacent: a swapped file changes what the model says about a patient.
So every file named in a manifest is checked against its SHA-256 before it is used, and a
mismatch makes the plugin unavailable with the reason. Discovery may use a cache keyed on
(path, size, mtime) so that listing plugins stays fast; :func:`verify_file` used right before
loading never trusts the cache.
"""

from __future__ import annotations

import hashlib
import threading
from pathlib import Path

from medview.ai.manifest import Manifest, WeightsSpec
from medview.core.errors import WeightsError

_CHUNK = 1 << 20
_cache: dict[tuple[str, int, int], str] = {}
_cache_lock = threading.Lock()


def sha256_bytes(payload: bytes) -> str:
    return hashlib.sha256(payload).hexdigest()


def sha256_file(path: Path) -> str:
    """Hex SHA-256 of the file's bytes, read in 1 MiB chunks (weights can be gigabytes)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _cached_sha256(path: Path) -> str:
    stat = path.stat()
    key = (str(path), stat.st_size, stat.st_mtime_ns)
    with _cache_lock:
        known = _cache.get(key)
    if known is None:
        known = sha256_file(path)
        with _cache_lock:
            _cache[key] = known
    return known


def weights_path(manifest: Manifest, spec: WeightsSpec) -> Path:
    """Where ``spec``'s file lies (inside the plugin folder; the manifest enforces that)."""
    return manifest.folder / spec.file


def verify_file(manifest: Manifest, spec: WeightsSpec, *, use_cache: bool = False) -> Path:
    """The file's path once its size and SHA-256 match the manifest.

    Raises
    ------
    WeightsError
        Missing file, wrong size, or SHA-256 mismatch (the message gives both digests'
        first 12 digits so the user can tell a partial download from a different release).
    """
    path = weights_path(manifest, spec)
    if not path.is_file():
        raise WeightsError(f"weights file {spec.file!r} is missing", manifest.folder)
    if spec.size is not None and path.stat().st_size != spec.size:
        raise WeightsError(
            f"weights file {spec.file!r} has {path.stat().st_size} bytes, the manifest says "
            f"{spec.size} (incomplete download?)",
            manifest.folder,
        )
    actual = _cached_sha256(path) if use_cache else sha256_file(path)
    if actual != spec.sha256:
        raise WeightsError(
            f"weights file {spec.file!r} fails its SHA-256 check (expected {spec.sha256[:12]}…, "
            f"found {actual[:12]}…): refusing to use it",
            manifest.folder,
        )
    return path


def verify_all(manifest: Manifest, *, use_cache: bool = False) -> dict[str, Path]:
    """Every weights file of ``manifest`` verified: ``{name: path}``."""
    return {
        spec.name: verify_file(manifest, spec, use_cache=use_cache) for spec in manifest.weights
    }


def verify_bytes(manifest: Manifest, spec: WeightsSpec, payload: bytes) -> bytes:
    """``payload`` if its SHA-256 matches ``spec``: used on the very bytes that get loaded,
    so a file swapped between check and load is still caught."""
    actual = sha256_bytes(payload)
    if actual != spec.sha256:
        raise WeightsError(
            f"weights file {spec.file!r} fails its SHA-256 check (expected {spec.sha256[:12]}…, "
            f"found {actual[:12]}…): refusing to use it",
            manifest.folder,
        )
    return payload
