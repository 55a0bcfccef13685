"""The demo unit's calibration: `qms calibrate` on the 40 Fadul scans, with the default index settings.

Fitted once (about 10 minutes on 2 cores) with::

    qms calibrate --unit FC-MOI --name "Fadul 2011, 40 Ruger P95 scans (NIST)" ../shared/data/fadul/ground_truth.csv

and kept here so `qms demo` shows likelihood ratios without that wait. The demo uses it only while
the unit index's settings equal `INDEX_SETTINGS` (otherwise its scores would mean something else);
refit with the command above after changing the comparison settings. Its Cllr is measured on the
pairs it was fitted on, so it is optimistic.
"""

from __future__ import annotations

from typing import Any

SET: dict[str, Any] = {
    "name": "Fadul 2011, 40 Ruger P95 scans (NIST)",
    "scans": 40,
    "same_source_pairs": 63,
    "different_source_pairs": 717,
    "cllr": 0.012046597178615904,
    "fitted_at": "2026-12-01T07:53:41.342192+00:00",
}
CALIBRATION: dict[str, Any] = {
    "knots": [0.0014557019734201704, 0.45471377675895386, 0.5660387189707287, 0.9806893196792369],
    "log10_lrs": [-1.8123089105022736, -1.8123089105022736, 2.8499955077239156, 2.8499955077239156],
    "n_same": 63,
    "n_different": 717,
    "threshold": 0.4979874814837752,
    "method": "pav-laplace",
}
INDEX_SETTINGS: dict[str, Any] = {
    "store_factor": 2,
    "pixel_size_um": 6.25,
    "cmc": {
        "grid": [8, 8],
        "max_missing": 0.85,
        "region_factor": 2.0,
        "translation_threshold": 10.0,
        "correlation_threshold": 0.5,
        "rotation_threshold": 6.0,
        "angle_step": 3.0,
        "angle_span": 18.0,
        "tau": 1,
        "min_cell_overlap": 0.95,
        "cell_peak": "ccf",
    },
}
