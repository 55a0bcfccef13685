"""A unit's score-to-likelihood-ratio calibration, fitted on a known set with the index's own settings.

The search re-ranks with the index's stored surfaces (downsampled by its store factor) and its CMC
parameters, so the calibration set is scored exactly the same way: its scans go into a temporary
index with the same settings and every pair is compared by `ballistics.search.compare_entry`, the
function the search itself uses. The fitted map (logistic regression with ELUB bounds, see
`ballistics.scoring`) is stored with the unit's index (so every later search reports a log10 LR);
the set's name and size and its cross-validated figures (`ballistics.lr_validation`: Cllr and
Cllr-min by firearm with bootstrap intervals, rates of misleading evidence) are kept beside it for
the review page and the unit's calibration page.
"""
from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from dataclasses import asdict, dataclass
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
from flask_babel import lazy_gettext as _l

from ballistics import index as bindex
from ballistics.evaluate import read_manifest
from ballistics.lr_validation import cross_validate
from ballistics.scoring import Calibration, cllr, fit_calibration, log10_lr, verbal_scale
from ballistics.search import compare_entry
from ballistics.surface import Surface
from qms.comparisons import unit_index
from qms.comparisons.models import SurfaceKind
from qms.db import utcnow

SET_FILE = "calibration-set.json"

# The ENFSI verbal scale as `ballistics.scoring.verbal_scale` words it (the library stays free of gettext).
VERBAL_LABELS = {
    "no support for either proposition": _l("no support for either proposition"),
    "extremely strong support for same source": _l("extremely strong support for same source"),
    "very strong support for same source": _l("very strong support for same source"),
    "strong support for same source": _l("strong support for same source"),
    "moderately strong support for same source": _l("moderately strong support for same source"),
    "moderate support for same source": _l("moderate support for same source"),
    "weak support for same source": _l("weak support for same source"),
    "extremely strong support for different sources": _l("extremely strong support for different sources"),
    "very strong support for different sources": _l("very strong support for different sources"),
    "strong support for different sources": _l("strong support for different sources"),
    "moderately strong support for different sources": _l("moderately strong support for different sources"),
    "moderate support for different sources": _l("moderate support for different sources"),
    "weak support for different sources": _l("weak support for different sources"),
}


def verbal_label(log10_lr_value: float) -> str:
    """The verbal equivalent of a likelihood ratio, in the reader's language."""
    words = verbal_scale(log10_lr_value)
    return str(VERBAL_LABELS.get(words, words))


@dataclass(frozen=True)
class CalibrationSet:
    """What a calibration was fitted on."""

    name: str
    scans: int
    same_source_pairs: int
    different_source_pairs: int
    cllr: float
    fitted_at: str
    cross_validation: dict[str, Any] | None = None
    cross_validation_refused: str = ""


def describe(unit_id: int, kind: str) -> CalibrationSet | None:
    """The calibration set recorded beside the unit's index, if any."""
    path = unit_index.unit_index_path(unit_id, kind) / SET_FILE
    if not path.exists():
        return None
    return CalibrationSet(**json.loads(path.read_text(encoding="utf-8")))  # older files lack the CV fields


def _prepared(path: Path) -> Any:
    """A scan as the index holds it: processed, at the index's pixel size."""
    return unit_index.prepared_for_index(unit_index.read_scan(path.read_bytes()))[0]


def fit_unit_calibration(unit_id: int, manifest: str | os.PathLike[str], *, name: str, executor: Any,
                         kind: str = "topography", progress: Callable[[int], None] | None = None) -> CalibrationSet:
    """Score every pair of the known set as the search would, fit and cross-validate, store it with the unit's index.

    ``progress`` is called with 1 as each pair is scored (e.g. ``tqdm.update``).
    """
    index = unit_index.open_unit_index(unit_id, kind)
    rows = read_manifest(manifest)
    surfaces = [_prepared(path) for path, _ in rows]
    scores, labels, firearms = [], [], []
    with tempfile.TemporaryDirectory() as folder:
        known = bindex.create_index(Path(folder) / "set", pixel_size=index.pixel_size, kind=index.kind,
                                    store_factor=index.store_factor, shard_size=index.shard_size,
                                    descriptor=index.descriptor, cmc=index.cmc)
        known = bindex.add(known, [bindex.NewEntry(s, file=p.name, id=f"k{i:05d}") for i, (s, (p, _)) in
                                   enumerate(zip(surfaces, rows, strict=True))])
        records = {e.id: e.to_record() for e in known.entries()}
        # Every row's comparisons are submitted before any result is read, so the pool stays busy to
        # the end (row by row, the last rows had fewer pairs than there are processes).
        batches = [(i, executor.map(partial(compare_entry, index=known, query=_query(known, surfaces[i])),
                                    [records[f"k{j:05d}"] for j in range(i + 1, len(rows))]))
                   for i in range(len(rows) - 1)]
        for i, results in batches:
            for j, result in enumerate(results, start=i + 1):
                if "error" in result:
                    raise ValueError(f"{rows[j][0].name}: {result['error']}")
                scores.append(result["score"])
                labels.append(rows[i][1] == rows[j][1])
                firearms.append((rows[i][1], rows[j][1]))
                if progress is not None:
                    progress(1)
    calibration = fit_calibration(scores, labels)
    fitted = CalibrationSet(name=name, scans=len(rows), same_source_pairs=sum(labels),
                            different_source_pairs=len(labels) - sum(labels),
                            cllr=float(cllr(log10_lr(calibration, scores), labels)), fitted_at=utcnow().isoformat(),
                            **_cross_validated(scores, labels, firearms))
    install(index, calibration, fitted)
    return fitted


def _cross_validated(scores: list[float], labels: list[bool], firearms: list[tuple[str, str]]) -> dict[str, Any]:
    """The set's cross-validated figures, or why the set is too small to give them."""
    try:
        found = cross_validate(scores, labels, [a for a, _ in firearms], [b for _, b in firearms])
    except ValueError as exc:
        return {"cross_validation": None, "cross_validation_refused": str(exc)}
    return {"cross_validation": found.summary(), "cross_validation_refused": ""}


def _query(index: bindex.Index, surface: Surface) -> tuple[np.ndarray, float]:
    stored = bindex.stored_form(index, surface)
    return stored.heights, stored.pixel_size


def install(index: bindex.Index, calibration: Calibration, fitted: CalibrationSet) -> None:
    """Store the calibration with the index and what it was fitted on beside it."""
    bindex.set_calibration(index, calibration)
    (index.path / SET_FILE).write_text(json.dumps(asdict(fitted), indent=2), encoding="utf-8")


def settings_of(index: bindex.Index) -> dict[str, Any]:
    """The index settings a calibration depends on, as plain JSON values."""
    return json.loads(json.dumps({"store_factor": index.store_factor, "pixel_size_um": index.pixel_size * 1e6,
                                  "cmc": asdict(index.cmc)}))


def calibration_of(unit_id: int, kind: str) -> tuple[str, int | None]:
    """Name and size (pairs) of the calibration stored with the unit's index, or ("", None)."""
    calibration = unit_index.open_unit_index(unit_id, kind).calibration
    if calibration is None:
        return "", None
    known = describe(unit_id, kind)
    pairs = calibration.n_same + calibration.n_different
    name = known.name if known else "calibration stored with the index"
    return (f"{name}: {calibration.method}, {calibration.n_same} known matches and {calibration.n_different} "
            f"known non-matches")[:200], pairs


@dataclass(frozen=True)
class KindCalibration:
    """The calibration of one of a unit's indexes as stored, for the unit's calibration page."""

    kind: str
    calibration: Calibration | None
    fitted: CalibrationSet | None
    retired: str

    @property
    def lr_range(self) -> tuple[float, float] | None:
        """Smallest and largest LR the calibration can report (its ELUB bounds)."""
        if self.calibration is None:
            return None
        return 10 ** self.calibration.lower_bound, 10 ** self.calibration.upper_bound


def unit_calibrations(unit_id: int) -> list[KindCalibration]:
    """The calibration of each kind of index the unit has; reading never creates an index."""
    found = []
    for kind in SurfaceKind:
        path = unit_index.unit_index_path(unit_id, kind.value)
        if not (path / bindex.MANIFEST).is_file():
            continue
        index = bindex.open_index(path)
        found.append(KindCalibration(kind.value, index.calibration, describe(unit_id, kind.value),
                                     index.retired_calibration))
    return found
