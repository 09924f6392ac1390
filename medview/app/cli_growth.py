"""``medview growth``: how each nodule changed between a prior and a current scan.

::

    medview growth CURRENT PRIOR --current-results DIR --prior-results DIR [--json] [--out F]

CURRENT and PRIOR are imported like ``medview run`` does; each ``--*-results DIR`` is the
output folder of a ``medview run`` of a detector on that scan (a ``review.json`` beside it
applies: rejected and pending findings are left out). The scans are aligned rigidly when
their frames of reference differ (:mod:`medview.imaging.registration`), the findings matched
through the alignment, and each nodule reported as growing, stable, shrinking, new or
resolved with its diameter change, volume change and volume doubling time
(:mod:`medview.model.growth`). ``--out`` writes the same as JSON, atomically.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from medview.core.errors import MedviewError


def add_commands(commands: argparse._SubParsersAction) -> None:
    """Register ``growth`` on the ``medview`` parser's subcommands."""
    growth = commands.add_parser(
        "growth", help="nodule change between a prior and a current scan (size, VDT)"
    )
    growth.add_argument("current", metavar="CURRENT", type=Path, help="the current scan")
    growth.add_argument("prior", metavar="PRIOR", type=Path, help="the prior scan")
    growth.add_argument(
        "--current-results", metavar="DIR", type=Path, required=True,
        help="`medview run` output folder of a detector on CURRENT",
    )  # fmt: skip
    growth.add_argument(
        "--prior-results", metavar="DIR", type=Path, required=True,
        help="`medview run` output folder of a detector on PRIOR",
    )  # fmt: skip
    growth.add_argument("--json", action="store_true", help="print one JSON document")
    growth.add_argument("--out", metavar="FILE", type=Path, help="also write the JSON here")
    growth.set_defaults(handler=cmd_growth)


def cmd_growth(args: argparse.Namespace) -> int:
    from medview.imaging.registration import align_rigid, identity
    from medview.model.growth import CAVEAT, compare_findings, interval_days
    from medview.model.prior_compare import check_comparable, same_frame

    current, current_findings = _scan(args.current, args.current_results, "current")
    prior, prior_findings = _scan(args.prior, args.prior_results, "prior")
    check_comparable(current.meta, prior.meta)
    days = interval_days(current.meta.study_date, prior.meta.study_date)
    if days is not None and days < 0:
        raise MedviewError(
            f"PRIOR was acquired after CURRENT ({-days} days later): swap them", args.prior
        )
    aligned = not same_frame(current.meta, prior.meta)
    alignment = align_rigid(current, prior) if aligned else identity()
    changes = compare_findings(current_findings, prior_findings, alignment, days)
    document = {
        "current": {"series_uid": current.meta.series_uid, "study_date": current.meta.study_date},
        "prior": {"series_uid": prior.meta.series_uid, "study_date": prior.meta.study_date},
        "interval_days": days,
        "alignment": {
            "estimated": aligned,
            "matrix_current_to_prior": [[round(v, 6) for v in row] for row in alignment.matrix],
            "translation_mm": round(float((alignment.translation_mm**2).sum() ** 0.5), 2),
            "rotation_degrees": round(alignment.rotation_degrees, 2),
            "seconds": round(alignment.seconds, 2),
            "similarity": None if alignment.similarity is None else round(alignment.similarity, 3),
            "uncertain": alignment.uncertain,
        },
        "changes": [change.as_dict() for change in changes],
        "caveat": CAVEAT,
    }
    text = json.dumps(document, indent=2) + "\n"
    if args.out is not None:
        _write(args.out, text)
    if args.json:
        print(text, end="")
    else:
        _print_table(document)
    return 0


def _scan(path: Path, results: Path, which: str):
    """(volume, accepted findings) of one scan and its ``medview run`` folder."""
    from medview.app.cli_report import _load, _results_series
    from medview.reports.results import load_results

    if not (results / "result.json").is_file():
        raise MedviewError("no result.json: not a `medview run` output folder", results)
    volume, _paths = _load(path, _results_series([results]))
    loaded = load_results(results, volume, reader=f"medview growth ({which})")
    return volume, [f for f in loaded.findings if f.reported]


def _write(path: Path, text: str) -> None:
    from medview.core.paths import atomic_write_bytes

    try:
        atomic_write_bytes(path, text.encode("utf-8"))
    except OSError as exc:
        raise MedviewError(f"cannot write ({exc.strerror or exc})", path) from None


def _print_table(document: dict) -> None:
    alignment = document["alignment"]
    how = (
        f"aligned rigidly: {alignment['translation_mm']} mm, {alignment['rotation_degrees']}°"
        if alignment["estimated"]
        else "same frame of reference"
    )
    days = document["interval_days"]
    print(f"interval: {'unknown' if days is None else f'{days} days'}; {how}")
    if alignment["uncertain"]:
        print(
            f"warning: the alignment is uncertain (correlation {alignment['similarity']}): "
            "the scans hardly match, so the matching below is not to be relied on"
        )
    print(f"{'status':<10} {'current':>22} {'prior':>22} {'Δ diam':>8} {'Δ vol':>8} {'VDT':>7}")
    for change in document["changes"]:
        print(
            f"{change['status']:<10} {_side(change['current']):>22} {_side(change['prior']):>22} "
            f"{_number(change['diameter_change_mm'], ' mm', signed=True):>8} "
            f"{_number(change['volume_change_percent'], '%', signed=True):>8} "
            f"{_number(change['doubling_time_days'], ' d'):>7}"
        )
    print(f"note: {document['caveat']}")


def _side(finding: dict | None) -> str:
    if finding is None:
        return "-"
    where = ",".join(f"{v:.0f}" for v in finding["center_lps_mm"])
    return f"{finding['diameter_mm']:.1f} mm @ {where}"


def _number(value: float | None, unit: str, signed: bool = False) -> str:
    if value is None:
        return "-"
    return f"{value:+.1f}{unit}" if signed else f"{value:.0f}{unit}"
