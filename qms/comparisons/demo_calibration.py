"""The demo unit's calibration: `qms calibrate` on the 40 Fadul scans, with the default index settings.

Fitted once (about 13 minutes on 2 busy cores) in a scratch instance with::

    export QMS_INSTANCE_PATH=/tmp/calibration-run/instance
    qms init && qms create-unit --code FC-MOI --name "Forensic Centre (calibration run)"
    qms calibrate --unit FC-MOI --name "Fadul 2011, 40 Ruger P95 scans (NIST)" --processes 2 \\
        ../shared/data/fadul/ground_truth.csv

then copied from that instance's ``ballistic-index/unit-1/topography/``: `SET` from
``calibration-set.json``, `CALIBRATION` from the ``calibration`` of ``index.json``. It is kept here so
`qms demo` shows likelihood ratios without that wait. The demo uses it only while the unit index's
settings equal `INDEX_SETTINGS` (otherwise its scores would mean something else); refit with the
commands above after changing the comparison settings or the calibration method.

The calibration is logistic regression within ELUB bounds (`ballistics.scoring`): graded log10 LRs
from -1.77 to +2.62. Its ``cllr`` is measured on the pairs it was fitted on (optimistic); the
``cross_validation`` figures hold each pair's firearms out of the calibration that scores it.
"""

from __future__ import annotations

from typing import Any

SET: dict[str, Any] = {
    "name": "Fadul 2011, 40 Ruger P95 scans (NIST)",
    "scans": 40,
    "same_source_pairs": 63,
    "different_source_pairs": 717,
    "cllr": 0.023231560768516936,
    "fitted_at": "2026-12-07T11:59:01.717938+00:00",
    "cross_validation": {
        "n_same": 63,
        "n_different": 717,
        "firearms": 10,
        "folds": 55,
        "cllr": 0.03095571666019498,
        "cllr_min": 0.0,
        "cllr_interval": [
            0.024014178162192756,
            0.03885181655476851
        ],
        "cllr_min_interval": [
            0.0,
            0.0
        ],
        "misleading_different": 0.0,
        "misleading_same": 0.0,
        "misleading_different_count": 0,
        "misleading_same_count": 0,
        "wrong_side_different": 0.001394700139470014,
        "wrong_side_same": 0.0,
        "bootstrap_resamples": 1000,
        "bootstrap_seed": 20261207,
        "bootstrap_unit": "firearm",
        "method": "leave the pair's firearms out",
        "confidence": 0.95,
        "misleading_log10_lr": 2.0
    },
    "cross_validation_refused": ""
}
CALIBRATION: dict[str, Any] = {
    "intercept": -3.654278522117493,
    "library": "lir 1.3.1",
    "lower_bound": -1.77,
    "method": "logit-elub",
    "n_different": 717,
    "n_same": 63,
    "slope": 8.02357571189413,
    "threshold": 0.4554426422000853,
    "upper_bound": 2.6200000000000006
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
