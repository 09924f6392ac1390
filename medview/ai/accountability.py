"""What every AI output says about the model that made it (issue 11 AI1).

A finding in a report is only as trustworthy as the record of what produced it. Every AI
result, audit line, SR, SEG and PDF carries the same five facts, taken from the job's
:class:`~medview.ai.api.Provenance`: the plugin's id and version, the SHA-256 of each weights
file, the torch version and the device the model ran on. A result whose record lacks them,
or claims a version whose installed manifest lists other weights, is refused rather than
reported (:func:`check_against_manifest`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from medview.core.errors import MedviewError

#: The facts, in the order the outputs list them.
FACTS = ("plugin_id", "plugin_version", "weights_sha256", "torch", "device")


def facts(provenance: Mapping[str, Any]) -> dict[str, Any]:
    """The five facts of a provenance record (:meth:`Provenance.as_dict` form).

    ``torch`` is "" for a plugin run where torch is not installed (a plain NumPy plugin).
    Also reads its own flat form (``torch`` at the top), as decision audit lines hold it.
    """
    versions = provenance.get("versions") or {"torch": provenance.get("torch", "")}
    return {
        "plugin_id": str(provenance.get("plugin_id", "")),
        "plugin_version": str(provenance.get("plugin_version", "")),
        "weights_sha256": {
            str(k): str(v) for k, v in (provenance.get("weights_sha256") or {}).items()
        },
        "torch": str(versions.get("torch", "")),
        "device": str(provenance.get("device", "")),
    }


def missing(provenance: Mapping[str, Any]) -> list[str]:
    """The facts a record does not state at all (an empty weights map is a statement)."""
    versions = provenance.get("versions")
    gone = [k for k in ("plugin_id", "plugin_version", "device") if not provenance.get(k)]
    if not isinstance(provenance.get("weights_sha256"), Mapping):
        gone.append("weights_sha256")
    if not isinstance(versions, Mapping) or "torch" not in versions:
        gone.append("torch")
    return sorted(gone, key=FACTS.index)


def parameter_texts(provenance: Mapping[str, Any]) -> list[str]:
    """The facts as ``name=value`` texts, for TID 4019 and SEG Algorithm Parameters.

    One text per weights file (``weights:<file>=<sha256>``): a SHA-256 in hex is 64
    characters, the most an LO value holds, so no value is cut.
    """
    found = facts(provenance)
    texts = [f"weights:{name}={sha}" for name, sha in sorted(found["weights_sha256"].items())]
    return [*texts, f"torch={found['torch'] or 'none'}", f"device={found['device'] or 'unknown'}"]


def check_against_manifest(
    provenance: Mapping[str, Any], manifests: Sequence[Any], where: object = None
) -> str:
    """Refuse a record the installed plugin's manifest contradicts; "" or a warning line.

    ``manifests``: the installed plugins' manifests (``id``, ``version``, ``weights`` with
    ``name`` and ``sha256``). A record that states a version the manifest also states, but
    other weights, is refused: it is either tampered with or from weights that were never
    shipped under that version. A record from another version of an installed plugin is
    reported as recorded, with a warning (returned); one from a plugin not installed here
    cannot be checked and is reported as recorded.

    Raises
    ------
    MedviewError
        The record lacks a fact, or its weights differ from the manifest's.
    """
    gone = missing(provenance)
    if gone:
        raise MedviewError(
            f"the AI result does not state its {', '.join(gone)}; medview reports only results "
            "it can trace to a model (issue 11 AI1)",
            where,
        )
    found = facts(provenance)
    manifest = next((m for m in manifests if m.id == found["plugin_id"]), None)
    if manifest is None:
        return ""
    if manifest.version != found["plugin_version"]:
        return (
            f"{found['plugin_id']}: the result was made by version {found['plugin_version']}, "
            f"the installed plugin is {manifest.version}; reported as recorded"
        )
    expected = {w.name: w.sha256 for w in manifest.weights}
    if expected != found["weights_sha256"]:
        differing = sorted(
            set(expected) ^ set(found["weights_sha256"])
            | {k for k in expected if found["weights_sha256"].get(k, expected[k]) != expected[k]}
        )
        raise MedviewError(
            f"the AI result names {found['plugin_id']} {found['plugin_version']} but weights "
            f"({', '.join(differing)}) that its installed manifest does not list; refused",
            where,
        )
    return ""
