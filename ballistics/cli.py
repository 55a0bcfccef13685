"""The ``ballistics`` command: info, compare, convert, evaluate.

`SUBCOMMANDS` lists the ``register(subparsers)`` functions that add the subcommands (those of
`ballistics.index_cli` too; `add_subcommand` adds another before `main` runs); each registered
parser sets ``handler`` to a function taking the parsed arguments and returning the exit code. Bad
input gives one line on stderr and a non-zero exit code, never a traceback.

The handlers import the heavy modules (numpy, OpenCV, SciPy, matplotlib) themselves, so that
``ballistics --help`` and a mistyped command answer without loading them.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, Callable, Sequence

from ballistics.index_cli import register_index, register_search, register_synth

__all__ = ["SUBCOMMANDS", "add_subcommand", "build_parser", "main"]

Register = Callable[[Any], None]

EXIT_USAGE = 2
EXIT_INPUT = 1


def _pixel_size_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--pixel-size-um", type=float, metavar="UM",
                        help="pixel size in micrometres (needed for images, which carry no scale)")


def _metres(args: argparse.Namespace) -> float | None:
    size = getattr(args, "pixel_size_um", None)
    if size is None:
        return None
    if not size > 0:
        raise ValueError(f"--pixel-size-um must be positive, got {size}")
    return size * 1e-6


# --------------------------------------------------------------------------------------------------
# info
# --------------------------------------------------------------------------------------------------

def _register_info(subparsers: Any) -> None:
    p = subparsers.add_parser("info", help="describe a scan (X3P or image)")
    p.add_argument("file", type=Path)
    _pixel_size_option(p)
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(handler=_info)


def _info(args: argparse.Namespace) -> int:
    from ballistics.io import describe, read_surface

    info = describe(read_surface(args.file, pixel_size=_metres(args)))
    if args.json:
        print(json.dumps(info, indent=2, default=str))
    else:
        for key, value in info.items():
            print(f"{key}: {value}")
    return 0


# --------------------------------------------------------------------------------------------------
# compare
# --------------------------------------------------------------------------------------------------

def _register_compare(subparsers: Any) -> None:
    p = subparsers.add_parser("compare", help="compare two scans (CMC, both directions)")
    p.add_argument("a", type=Path)
    p.add_argument("b", type=Path)
    p.add_argument("--json", action="store_true", help="print the full result as JSON")
    p.add_argument("--out", type=Path, help="folder for the explanation images and result.json")
    p.add_argument("--calibration", type=Path, help="calibration.json from `ballistics evaluate`: adds the LR")
    _pixel_size_option(p)
    # Both are what every comparison now does (raw scans preprocessed, pixel sizes reconciled); the
    # flags stay accepted so that existing scripts keep working.
    p.add_argument("--resample", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--preprocess", action="store_true", help=argparse.SUPPRESS)
    p.set_defaults(handler=_compare)


def _compare(args: argparse.Namespace) -> int:
    from ballistics.cmc import compare
    from ballistics.io import read_surface
    from ballistics.preprocess import working_pair

    size = _metres(args)
    pair = working_pair(read_surface(args.a, pixel_size=size), read_surface(args.b, pixel_size=size))
    a, b = pair.a, pair.b  # kept for the explanation images; compare records what was done to them
    result = compare(a, b)
    doc = _result_document(result, args)
    if args.out is not None:
        _explain(args.out, a, b, result, doc)
    if args.json:
        print(json.dumps(doc, indent=2))
    else:
        print(f"High-CMC {result.high_cmc} of {result.possible_cells} cells; original rule "
              f"{result.cmc_original[0]} (A->B) / {result.cmc_original[1]} (B->A); correlation "
              f"{result.correlation:.3f} at {result.alignment.angle_deg:.1f} deg; score {result.score:.4f}")
        print(f"compared at {result.pixel_size_um:.4g} um per pixel; A {result.preparation[0]}, "
              f"B {result.preparation[1]}")
        if "log10_lr" in doc:
            print(f"log10 LR {doc['log10_lr']:.2f}: {doc['verbal_scale']}")
    return 0


def _result_document(result: Any, args: argparse.Namespace) -> dict[str, Any]:
    doc = {"a": str(args.a), "b": str(args.b), **result.to_dict()}
    if args.calibration is not None:
        from ballistics.scoring import Calibration, log10_lr, verbal_scale

        calibration = Calibration.from_json(args.calibration.read_text(encoding="utf-8"))
        value = float(log10_lr(calibration, [result.score])[0])
        doc.update(log10_lr=value, verbal_scale=verbal_scale(value))
    return doc


def _explain(out: Path, a: Any, b: Any, result: Any, doc: dict[str, Any]) -> None:
    from ballistics import plots

    out.mkdir(parents=True, exist_ok=True)
    plots.overlay(a, b, result.alignment, path=out / "overlay.png")
    plots.cell_grid(a, result, direction="A->B", path=out / "cells_a.png")
    plots.cell_grid(b, result, direction="B->A", path=out / "cells_b.png")
    plots.rotation_curve(result, path=out / "rotation.png")
    (out / "result.json").write_text(json.dumps(doc, indent=2), encoding="utf-8")


# --------------------------------------------------------------------------------------------------
# convert
# --------------------------------------------------------------------------------------------------

def _register_convert(subparsers: Any) -> None:
    p = subparsers.add_parser("convert", help="convert between X3P and images (PNG, TIFF)")
    p.add_argument("source", type=Path)
    p.add_argument("target", type=Path)
    _pixel_size_option(p)
    p.set_defaults(handler=_convert)


def _convert(args: argparse.Namespace) -> int:
    from ballistics.io import read_surface, write_image, write_x3p

    suffix = args.target.suffix.lower()
    if suffix not in (".x3p", ".png", ".tif", ".tiff"):
        raise ValueError(f"cannot write {args.target.name}: use .x3p, .png, .tif or .tiff")
    surface = read_surface(args.source, pixel_size=_metres(args))
    if suffix == ".x3p" and surface.kind == "image":
        raise ValueError(f"{args.source.name} is an image (grey levels, no height scale), not a topography: "
                         "writing it as X3P would claim heights in metres. Convert the original X3P, or a PNG "
                         "written by `ballistics convert` from one (it keeps the heights)")
    written = write_x3p(surface, args.target) if suffix == ".x3p" else write_image(surface, args.target)
    print(f"wrote {written}")
    return 0


# --------------------------------------------------------------------------------------------------
# evaluate
# --------------------------------------------------------------------------------------------------

def _register_evaluate(subparsers: Any) -> None:
    p = subparsers.add_parser("evaluate", help="validate on a known set: all pairs, ROC, calibration, report")
    p.add_argument("manifest", type=Path, help="CSV with columns file, firearm")
    p.add_argument("--out", type=Path, required=True, help="report folder")
    p.add_argument("--workers", type=int, default=None, help="processes (default: all cores)")
    p.add_argument("--rotate-random", type=int, metavar="SEED",
                   help="rotate one scan of every pair by a random angle (seeded)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(handler=_evaluate)


def _evaluate(args: argparse.Namespace) -> int:
    import os

    from ballistics.evaluate import evaluate

    if args.workers is not None and args.workers < 1:
        raise ValueError("--workers must be at least 1")
    result = evaluate(args.manifest, args.out, workers=args.workers or os.cpu_count(),
                      rotate_random=args.rotate_random, progress=not args.quiet)
    p = result.performance
    print(f"{result.summary['pairs']} pairs: AUC {p.auc:.4f}, EER {p.eer:.4f}, Cllr {p.cllr:.4f}, "
          f"Cllr-min {p.cllr_min:.4f}, threshold {p.threshold:.4f}, {p.false_positives} false positives, "
          f"{p.false_negatives} false negatives; report {result.out_dir / 'report.html'}")
    cross = result.summary["cross_validation"]
    if cross["available"]:
        print(f"cross-validated by firearm: Cllr {cross['cllr']:.4f} (95 % {cross['cllr_interval'][0]:.4f} to "
              f"{cross['cllr_interval'][1]:.4f}), Cllr-min {cross['cllr_min']:.4f}; LR > 100 for "
              f"{cross['misleading_different_count']} different-source pairs, LR < 0.01 for "
              f"{cross['misleading_same_count']} same-source pairs")
    else:
        print(f"no cross-validation: {cross['reason']}")
    return 0


# --------------------------------------------------------------------------------------------------
# main
# --------------------------------------------------------------------------------------------------

SUBCOMMANDS: list[Register] = [_register_info, _register_compare, _register_convert, _register_evaluate,
                               register_index, register_search, register_synth]
"""Functions ``register(subparsers)`` that add the subcommands; extend to add more."""


def add_subcommand(register: Register) -> Register:
    """Register an extra subcommand (usable as a decorator); returns ``register`` unchanged."""
    if register not in SUBCOMMANDS:
        SUBCOMMANDS.append(register)
    return register


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every registered subcommand."""
    parser = argparse.ArgumentParser(prog="ballistics", description="Cartridge-case scans: inspect, "
                                     "convert, compare (Congruent Matching Cells) and validate.")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for register in SUBCOMMANDS:
        register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code (0 success, 1 bad input, 2 usage)."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:  # argparse has already printed its usage message
        return int(exit_.code or 0)
    try:
        return int(args.handler(args))
    except (ValueError, OSError, ImportError) as exc:
        # SurfaceFormatError and friends are ValueErrors; a message per line is all a user needs.
        message = " ".join(str(exc).split()) or type(exc).__name__
        print(f"ballistics {args.command}: error: {message}", file=sys.stderr)
        return EXIT_INPUT
    except KeyboardInterrupt:
        print("ballistics: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
