"""The comparison bench (a firearms unit with imaged casings) serves the gate tests too."""
from tests.qms.comparisons.conftest import app_config, bench, scans, scene_bench  # noqa: F401  (fixtures)
