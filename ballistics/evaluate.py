"""Method validation on a set of known pairs: all-pairs comparison, figures, calibration, report.

`evaluate` reads a manifest (CSV with columns ``file`` and ``firearm``), compares every pair of scans
with `ballistics.cmc.compare` in a process pool, fits a score-to-LR calibration and writes a
validation report folder that a quality manager can file as method-validation evidence
(ISO/IEC 17025:2017 clause 7.2.2; ENFSI 2015 guideline for evaluative reporting):

``summary.json``     AUC, EER, Cllr, Cllr-min, counts, thresholds, errors, timing; under
                     ``cross_validation``: Cllr and Cllr-min of LRs cross-validated by firearm, with 95 %
                     bootstrap intervals, and the rates of misleading evidence (`ballistics.lr_validation`)
``pairs.csv``        one row per pair: files, firearms, truth, rotation applied, CMC counts, scores, LR
``errors.csv``       pairs misclassified at the decision threshold
``calibration.json`` the fitted calibration (`ballistics.scoring.Calibration`)
``parameters.json``  comparison parameters, software versions, manifest checksum
``*.png``            ROC, score histograms (KM vs KNM), Tippett plot, calibration curve
``report.html``      one self-contained page (images inlined, no links or scripts)

References
----------
.. [1] D. Meuwly, D. Ramos, R. Haraksim, "A guideline for the validation of likelihood ratio methods
   used for forensic evidence evaluation", Forensic Science International 276:142-153, 2017.
   doi:10.1016/j.forsciint.2016.03.048
.. [2] J. Zemmels, S. VanderPlas, H. Hofmann, J. Data Science 21(2), 2023 (the Fadul all-pairs study).
"""
from __future__ import annotations

import base64
import csv
import hashlib
import html
import itertools
import json
import os
import platform
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, fields
from multiprocessing import get_context
from pathlib import Path
from typing import Any, Iterable, Iterator

import numpy as np

from ballistics.cmc import CMCParams, compare
from ballistics.lr_validation import cross_validate
from ballistics.registration import Alignment, warp
from ballistics.scoring import Calibration, Performance, fit_calibration, log10_lr, performance, verbal_scale
from ballistics.surface import Surface

__all__ = ["Evaluation", "PairResult", "evaluate", "read_manifest"]


@dataclass(frozen=True)
class PairResult:
    """Outcome of one pair of the validation set (``error`` set when the comparison failed)."""

    file_a: str
    file_b: str
    firearm_a: str
    firearm_b: str
    same_source: bool
    rotation_deg: float
    high_cmc: int
    possible_cells: int
    cmc_original_ab: int
    cmc_original_ba: int
    correlation: float
    score: float
    angle_deg: float
    seconds: float
    error: str = ""
    pixel_size_um: float = float("nan")  # the working pixel size of the comparison
    preparation: str = ""  # what was done to A and B before it (raw preprocessed, resampled)


@dataclass(frozen=True)
class Evaluation:
    """What `evaluate` wrote, and the figures it computed."""

    out_dir: Path
    pairs: tuple[PairResult, ...]
    calibration: Calibration
    performance: Performance
    summary: dict[str, Any]


# --------------------------------------------------------------------------------------------------
# Manifest and workers
# --------------------------------------------------------------------------------------------------

def read_manifest(path: str | os.PathLike[str]) -> list[tuple[Path, str]]:
    """(file, firearm) rows of a manifest CSV; relative paths are taken from the manifest's folder.

    Raises
    ------
    ValueError
        Missing columns, missing files, fewer than two scans, or no same-source pair.
    """
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"manifest not found: {path}")
    with open(path, newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        if reader.fieldnames is None or not {"file", "firearm"} <= set(reader.fieldnames):
            raise ValueError(f"manifest {path.name} needs the columns 'file' and 'firearm', "
                             f"found {reader.fieldnames}")
        rows = [(Path(r["file"]), r["firearm"].strip()) for r in reader if (r.get("file") or "").strip()]
    rows = [(f if f.is_absolute() else path.parent / f, firearm) for f, firearm in rows]
    missing = [str(f) for f, _ in rows if not f.is_file()]
    if missing:
        raise ValueError(f"{len(missing)} file(s) of the manifest are missing, e.g. {missing[0]}")
    if len(rows) < 2:
        raise ValueError("the manifest lists fewer than two scans: nothing to compare")
    firearms = [firearm for _, firearm in rows]
    if len(set(firearms)) == len(firearms):
        raise ValueError("no two scans share a firearm: the set has no known matches to validate on")
    if len(set(firearms)) < 2:
        raise ValueError("all scans come from one firearm: the set has no known non-matches")
    return rows


_CACHE: dict[str, Surface] = {}


def _load(path: str) -> Surface:
    """Read a scan once per worker process (each scan takes part in many pairs)."""
    if path not in _CACHE:
        from ballistics.io import read_surface
        from ballistics.preprocess import to_working_size

        surface = read_surface(path)
        # Raw scans are preprocessed once here, before any rotation (always to the working size).
        _CACHE[path] = surface if surface.processed else to_working_size(surface)[0]
    return _CACHE[path]


def _worker_init() -> None:
    # One thread per process: the pool already uses every core.
    import cv2

    cv2.setNumThreads(1)


def _rotated(surface: Surface, angle: float) -> Surface:
    """The surface turned about its centre, in the same frame (cell grid unchanged).

    Points beyond the inscribed circle are lost; breech-face data lie inside it.
    """
    if angle == 0.0:
        return surface
    return warp(surface, Alignment(angle, 0.0, 0.0, 0.0, 0), surface.shape)


def _compare_pair(task: tuple[str, str, str, str, float, CMCParams]) -> PairResult:
    path_a, path_b, firearm_a, firearm_b, angle, params = task
    start = time.perf_counter()
    try:
        a, b = _load(path_a), _rotated(_load(path_b), angle)
        r = compare(a, b, params=params)
    except (ValueError, TypeError) as exc:
        return PairResult(Path(path_a).name, Path(path_b).name, firearm_a, firearm_b, firearm_a == firearm_b,
                          angle, 0, 0, 0, 0, float("nan"), float("nan"), float("nan"),
                          time.perf_counter() - start, f"{type(exc).__name__}: {exc}")
    return PairResult(Path(path_a).name, Path(path_b).name, firearm_a, firearm_b, firearm_a == firearm_b,
                      angle, r.high_cmc, r.possible_cells, r.cmc_original[0], r.cmc_original[1],
                      r.correlation, r.score, r.alignment.angle_deg, time.perf_counter() - start,
                      pixel_size_um=r.pixel_size_um, preparation=f"A {r.preparation[0]}; B {r.preparation[1]}")


def _tasks(rows: list[tuple[Path, str]], rotate_random: int | None,
           params: CMCParams) -> list[tuple[str, str, str, str, float, CMCParams]]:
    pairs = list(itertools.combinations(range(len(rows)), 2))
    rng = np.random.default_rng(rotate_random)
    angles = rng.uniform(-180.0, 180.0, len(pairs)) if rotate_random is not None else np.zeros(len(pairs))
    return [(str(rows[i][0]), str(rows[j][0]), rows[i][1], rows[j][1], float(angle), params)
            for (i, j), angle in zip(pairs, angles)]


def _run(tasks: list, workers: int, progress: bool) -> list[PairResult]:
    from tqdm import tqdm

    bar = tqdm(total=len(tasks), desc="comparing pairs", unit="pair", disable=not progress, file=sys.stderr)
    results: list[PairResult] = []
    if workers <= 1:
        _worker_init()
        for task in tasks:
            results.append(_compare_pair(task))
            bar.update()
    else:
        # Spawned (not forked) workers: no inherited threads or locks; the first-file order of the
        # tasks keeps each worker's cache of scans small.
        with ProcessPoolExecutor(workers, mp_context=get_context("spawn"), initializer=_worker_init) as pool:
            for result in pool.map(_compare_pair, tasks, chunksize=max(1, min(16, len(tasks) // (workers * 8)))):
                results.append(result)
                bar.update()
    bar.close()
    return results


# --------------------------------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------------------------------

def _versions() -> dict[str, str]:
    import cv2
    import matplotlib
    import scipy

    return {"python": platform.python_version(), "numpy": np.__version__, "scipy": scipy.__version__,
            "opencv": cv2.__version__, "matplotlib": matplotlib.__version__, "platform": platform.platform(),
            "ballistics": _package_version()}


def _package_version() -> str:
    try:
        from importlib.metadata import version

        return version("csi-qms")
    except Exception:  # not installed: running from a checkout
        return "checkout"


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _write_csv(path: Path, rows: Iterable[PairResult], lrs: dict[tuple[str, str], float]) -> None:
    names = [f.name for f in fields(PairResult)] + ["log10_lr", "verbal_scale"]
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(names)
        for r in rows:
            lr = lrs.get((r.file_a, r.file_b))
            words = verbal_scale(lr) if lr is not None else ""
            writer.writerow(list(asdict(r).values()) + ["" if lr is None else f"{lr:.4f}", words])


def _figures(out: Path, scores: np.ndarray, highs: np.ndarray, labels: np.ndarray, lrs: np.ndarray,
             calibration: Calibration) -> dict[str, str]:
    from ballistics import plots

    files = {
        "roc.png": lambda p: plots.roc_plot(scores, labels, path=p, title="ROC, combined score"),
        "roc_high_cmc.png": lambda p: plots.roc_plot(highs, labels, path=p, title="ROC, High-CMC count"),
        "histogram_score.png": lambda p: plots.histograms(scores, labels, path=p, threshold=calibration.threshold,
                                                         xlabel="combined score"),
        "histogram_high_cmc.png": lambda p: plots.histograms(highs, labels, path=p, xlabel="High-CMC count"),
        "tippett.png": lambda p: plots.tippett(lrs, labels, path=p),
        "calibration.png": lambda p: plots.calibration_plot(calibration, scores, labels, path=p),
    }
    captions = {
        "roc.png": "ROC curve of the combined score",
        "roc_high_cmc.png": "ROC curve of the High-CMC count",
        "histogram_score.png": "Combined score, known matches and known non-matches (log counts)",
        "histogram_high_cmc.png": "High-CMC count, known matches and known non-matches (log counts)",
        "tippett.png": "Tippett plot of the log10 likelihood ratios (cross-validated by firearm when the set allows)",
        "calibration.png": "Score-to-log10-LR calibration (logistic regression within ELUB bounds, lir)",
    }
    for name, draw in files.items():
        draw(out / name)
    return captions


def _html(out: Path, summary: dict[str, Any], captions: dict[str, str], errors: list[PairResult]) -> str:
    def row(key: str, value: Any) -> str:
        return f"<tr><th>{html.escape(key)}</th><td>{html.escape(str(value))}</td></tr>"

    main = summary["score"]
    table = "".join(row(k, v) for k, v in [
        ("pairs compared", summary["pairs"]), ("known matches", main["n_same"]),
        ("known non-matches", main["n_different"]), ("failed comparisons", summary["failed"]),
        ("AUC, combined score", f"{main['auc']:.4f}"), ("AUC, High-CMC count", f"{summary['high_cmc']['auc']:.4f}"),
        ("equal error rate", f"{main['eer']:.4f}"), ("Cllr (bits)", f"{main['cllr']:.4f}"),
        ("Cllr-min (bits)", f"{main['cllr_min']:.4f}"), ("decision threshold (LR = 1)", f"{main['threshold']:.4f}"),
        ("false positives at threshold", main["false_positives"]),
        ("false negatives at threshold", main["false_negatives"]),
        ("known-match High-CMC range", summary["ranges"]["high_cmc_km"]),
        ("known-non-match High-CMC range", summary["ranges"]["high_cmc_knm"]),
        ("random rotation seed", summary["rotate_random"]), ("median seconds per pair", f"{summary['median_seconds']:.3f}"),
        ("wall time (s)", f"{summary['wall_seconds']:.1f}"), ("generated (UTC)", summary["generated_at"]),
    ])
    images = "".join(
        f"<figure><img alt=\"{html.escape(c)}\" src=\"data:image/png;base64,"
        f"{base64.b64encode((out / n).read_bytes()).decode()}\"><figcaption>{html.escape(c)}</figcaption></figure>"
        for n, c in captions.items())
    error_rows = "".join(
        f"<tr><td>{html.escape(e.file_a)}</td><td>{html.escape(e.file_b)}</td><td>{'match' if e.same_source else 'non-match'}"
        f"</td><td>{e.high_cmc}</td><td>{e.score:.4f}</td></tr>" for e in errors) or "<tr><td colspan=5>none</td></tr>"
    params = html.escape(json.dumps(summary["parameters"], indent=2))
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Method validation: cartridge-case comparison (CMC)</title>
<style>body{{font-family:sans-serif;max-width:60em;margin:2em auto;color:#222}}table{{border-collapse:collapse}}
th,td{{border:1px solid #bbb;padding:.2em .6em;text-align:left}}figure{{display:inline-block;margin:.5em}}
img{{max-width:28em}}pre{{background:#f4f4f4;padding:.5em}}</style></head><body>
<h1>Method validation: cartridge-case comparison by Congruent Matching Cells</h1>
<p>Manifest <code>{html.escape(summary['manifest'])}</code> (SHA-256 {summary['manifest_sha256']}).
Every pair of scans compared in both directions; one scan of each pair rotated by a random angle when a
seed is given. Scores: High-CMC count (Tong et al. 2015) and the combined score
(High-CMC fraction + 0.01 x whole-surface correlation); likelihood ratios from logistic-regression
calibration held within empirical lower and upper bounds (ELUB), fitted with NFI's lir. The figures of
merit below are in-sample (optimistic); the cross-validated figures follow them.</p>
<h2>Figures of merit</h2><table>{table}</table>
<h2>Likelihood ratios cross-validated by firearm</h2>{_cross_validation_html(summary["cross_validation"])}
<h2>Errors at the decision threshold</h2>
<table><tr><th>A</th><th>B</th><th>truth</th><th>High-CMC</th><th>score</th></tr>{error_rows}</table>
<h2>Figures</h2>{images}
<h2>Parameters and software</h2><pre>{params}</pre>
<p>References: Song 2013 (AFTE J. 45:184); Tong, Song, Chu 2015 (J. Res. NIST 120:102); Song et al. 2018
(FSI 284:15); Zemmels, VanderPlas, Hofmann 2023 (J. Data Sci. 21(2)); Brümmer and du Preez 2006 (Comput.
Speech Lang. 20:230); ENFSI Guideline for evaluative reporting 2015; Meuwly, Ramos, Haraksim 2017 (FSI 276:142).</p>
</body></html>"""


def _cross_validation_html(cross: dict[str, Any]) -> str:
    if not cross.get("available"):
        return f"<p>Not available: {html.escape(cross.get('reason', ''))}.</p>"

    def interval(key: str) -> str:
        low, high = cross[f"{key}_interval"]
        return f"{cross[key]:.4f} (95 % interval {low:.4f} to {high:.4f})"

    rows = [
        ("Cllr (bits)", interval("cllr")), ("Cllr-min (bits)", interval("cllr_min")),
        ("different-source pairs with LR > 100",
         f"{cross['misleading_different_count']} of {cross['n_different']} ({cross['misleading_different']:.2%})"),
        ("same-source pairs with LR < 0.01",
         f"{cross['misleading_same_count']} of {cross['n_same']} ({cross['misleading_same']:.2%})"),
        ("different-source pairs with LR > 1", f"{cross['wrong_side_different']:.2%}"),
        ("same-source pairs with LR < 1", f"{cross['wrong_side_same']:.2%}"),
        ("calibrations fitted (folds)", cross["folds"]),
        ("bootstrap", f"{cross['bootstrap_resamples']} resamples of the {cross['firearms']} firearms, "
                      f"seed {cross['bootstrap_seed']}"),
    ]
    body = "".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(str(v))}</td></tr>" for k, v in rows)
    return ("<p>Each pair's LR comes from a calibration fitted without the pair's firearm(s); intervals from "
            f"a bootstrap over firearms.</p><table>{body}</table>")


def _range(values: Iterator[int] | list[int]) -> list[int]:
    values = list(values)
    return [int(min(values)), int(max(values))] if values else []


# --------------------------------------------------------------------------------------------------
# Entry point
# --------------------------------------------------------------------------------------------------

def evaluate(manifest_csv: str | os.PathLike[str], out_dir: str | os.PathLike[str], *,
             workers: int | None = os.cpu_count(), rotate_random: int | None = None,
             params: CMCParams = CMCParams(), progress: bool = True) -> Evaluation:
    """Compare all pairs of a known set and write a validation report folder.

    Parameters
    ----------
    manifest_csv : path
        CSV with columns ``file`` (absolute, or relative to the manifest) and ``firearm``.
    out_dir : path
        Report folder (created; existing files of the same names are replaced).
    workers : int, keyword-only
        Processes; 1 runs in this process. Default: all cores.
    rotate_random : int, keyword-only
        Seed: when given, the second scan of every pair is rotated by a random angle (uniform over the
        full circle) before comparison, to show that the result does not depend on orientation.
    params : CMCParams, keyword-only
        Comparison parameters.
    progress : bool, keyword-only
        Show a tqdm progress bar on stderr.

    Returns
    -------
    Evaluation

    Raises
    ------
    ValueError
        Bad manifest, or every comparison failed.
    """
    started = time.perf_counter()
    manifest = Path(manifest_csv)
    rows = read_manifest(manifest)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    results = _run(_tasks(rows, rotate_random, params), max(1, int(workers or 1)), progress)
    ok = [r for r in results if not r.error]
    labels = np.array([r.same_source for r in ok], dtype=bool)
    if len(ok) < 2 or labels.all() or not labels.any():
        first = next((r.error for r in results if r.error), "no usable pairs")
        raise ValueError(f"too few successful comparisons to validate ({len(ok)} of {len(results)}): {first}")
    scores = np.array([r.score for r in ok])
    highs = np.array([r.high_cmc for r in ok], dtype=float)
    calibration = fit_calibration(scores, labels)
    perf = performance(scores, labels, calibration)
    lrs = log10_lr(calibration, scores)
    cross, cv_lrs = _cross_validation(ok, scores, labels)
    called = scores > calibration.threshold
    errors = [r for r, c in zip(ok, called) if c != r.same_source]
    summary = _summary(manifest, rows, results, ok, labels, highs, perf, rotate_random, params, started)
    summary["cross_validation"] = cross
    _write_outputs(out, results, ok, lrs, errors, calibration, summary)
    captions = _figures(out, scores, highs, labels, lrs if cv_lrs is None else cv_lrs, calibration)
    summary["wall_seconds"] = time.perf_counter() - started
    (out / "summary.json").write_text(json.dumps(summary, indent=2), encoding="utf-8")
    (out / "report.html").write_text(_html(out, summary, captions, errors), encoding="utf-8")
    return Evaluation(out, tuple(results), calibration, perf, summary)


def _cross_validation(ok: list[PairResult], scores: np.ndarray,
                      labels: np.ndarray) -> tuple[dict[str, Any], np.ndarray | None]:
    """Figures of LRs cross-validated by firearm, or why the set is too small for them."""
    try:
        found = cross_validate(scores, labels, [r.firearm_a for r in ok], [r.firearm_b for r in ok])
    except ValueError as exc:
        return {"available": False, "reason": str(exc)}, None
    return {"available": True, **found.summary()}, np.array(found.log10_lrs)


def _summary(manifest: Path, rows: list, results: list[PairResult], ok: list[PairResult], labels: np.ndarray,
             highs: np.ndarray, perf: Performance, rotate_random: int | None, params: CMCParams,
             started: float) -> dict[str, Any]:
    high_cal = fit_calibration(highs, labels)
    high_perf = performance(highs, labels, high_cal)
    return {
        "manifest": str(manifest), "manifest_sha256": _sha256(manifest), "scans": len(rows),
        "pairs": len(results), "failed": len(results) - len(ok),
        "failures": [f"{r.file_a} vs {r.file_b}: {r.error}" for r in results if r.error][:20],
        "score": asdict(perf), "high_cmc": asdict(high_perf),
        "ranges": {
            "high_cmc_km": _range(r.high_cmc for r in ok if r.same_source),
            "high_cmc_knm": _range(r.high_cmc for r in ok if not r.same_source),
            "cmc_original_km": _range(c for r in ok if r.same_source for c in (r.cmc_original_ab, r.cmc_original_ba)),
            "cmc_original_knm": _range(c for r in ok if not r.same_source
                                       for c in (r.cmc_original_ab, r.cmc_original_ba)),
        },
        "classic_criterion_cmc_ge_6": {
            "false_positives": int(sum(1 for r in ok if not r.same_source and r.high_cmc >= 6)),
            "false_negatives": int(sum(1 for r in ok if r.same_source and r.high_cmc < 6)),
        },
        "rotate_random": rotate_random,
        "median_seconds": float(np.median([r.seconds for r in ok])),
        "wall_seconds": time.perf_counter() - started,
        "generated_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "parameters": {"cmc": asdict(params), "software": _versions()},
    }


def _write_outputs(out: Path, results: list[PairResult], ok: list[PairResult], lrs: np.ndarray,
                   errors: list[PairResult], calibration: Calibration, summary: dict[str, Any]) -> None:
    by_pair = {(r.file_a, r.file_b): float(v) for r, v in zip(ok, lrs)}
    _write_csv(out / "pairs.csv", results, by_pair)
    _write_csv(out / "errors.csv", errors, by_pair)
    (out / "calibration.json").write_text(calibration.to_json(), encoding="utf-8")
    (out / "parameters.json").write_text(json.dumps(summary["parameters"], indent=2), encoding="utf-8")
