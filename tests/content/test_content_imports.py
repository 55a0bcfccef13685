"""The content packages stay plain Python + PyYAML, so CLI commands and workers can use them anywhere."""

from __future__ import annotations

import subprocess
import sys

PROBE = """
import sys
import audits, sop_library
audits.load_all()
audits.load_checklist("full-17020-internal-audit")
sop_library.load_templates()
heavy = sorted({m.split(".")[0] for m in sys.modules} & {"flask", "sqlalchemy", "qms", "numpy", "jsonschema"})
print(",".join(heavy))
"""


def test_content_packages_import_without_web_or_database_stack():
    # A fresh interpreter, because the test session itself may already have imported Flask.
    result = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == ""
