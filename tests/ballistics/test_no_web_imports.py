"""The ballistics library must never pull in the web application or its database layer."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

PROBE = """
import importlib, json, pkgutil, sys
import ballistics
names = sorted(m.name for m in pkgutil.walk_packages(ballistics.__path__, "ballistics."))
for name in names:
    importlib.import_module(name)
loaded = [m for m in sys.modules if m.split(".")[0] in ("flask", "sqlalchemy", "flask_sqlalchemy", "qms")]
print(json.dumps({"modules": names, "web": loaded}))
"""


def test_importing_every_ballistics_module_loads_no_flask_sqlalchemy_or_qms():
    # A fresh interpreter: this test process may already hold Flask from other tests.
    done = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert {"ballistics.registration", "ballistics.cmc", "ballistics.scoring", "ballistics.plots",
            "ballistics.evaluate", "ballistics.cli"} <= set(report["modules"])
    assert report["web"] == []
