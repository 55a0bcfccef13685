"""Every subcommand of the `ballistics` command is reachable from its entry point."""
from __future__ import annotations

import subprocess
import sys


def test_entry_point_lists_every_subcommand():
    # A fresh interpreter, so no test module has registered anything beforehand.
    code = "import sys; from ballistics.cli import main; sys.exit(main(['--help']))"
    result = subprocess.run([sys.executable, "-c", code],
                            capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0
    for command in ("info", "compare", "convert", "evaluate", "index", "search", "synth"):
        assert f"    {command}" in result.stdout, command


def test_search_of_a_missing_index_is_a_clear_error():
    result = subprocess.run([sys.executable, "-c", "import sys; from ballistics.cli import main; "
                             "sys.exit(main(['search', '/no/such/index', '/no/such/scan.x3p']))"],
                            capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode != 0
    assert "no index directory" in result.stderr and "Traceback" not in result.stderr
