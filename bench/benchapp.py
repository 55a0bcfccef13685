"""What the web application's benchmarks share: the app on a fresh SQLite file in a folder of its own.

Scripts run as `python bench/<script>.py`, so this folder is on the path and `from benchapp import
bench_app` finds this module.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any


def bench_app(instance: Path, **settings: Any):  # type: ignore[no-untyped-def]
    """An app with its database and object store in `instance`; fast password hashes, no MFA."""
    from qms import create_app

    return create_app({"INSTANCE_PATH": str(instance), "DATABASE_URL": f"sqlite:///{instance / 'bench.sqlite3'}",
                       "SECRET_KEY": "bench-secret-key", "PASSWORD_HASH_FAST_FOR_TESTS": True,
                       "MFA_REQUIRED": False, **settings})
