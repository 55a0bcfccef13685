"""Shared fixtures for the ballistics tests: the real scans in ../shared/data, when present."""
from __future__ import annotations

import csv
import os
from pathlib import Path

import pytest

DATA_DIR = Path(os.environ.get("QMS_SHARED_DATA", Path(__file__).resolve().parents[2] / ".." / "shared" / "data")).resolve()


def _require(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"real scans not available: {path} is absent (set QMS_SHARED_DATA to the shared data folder)")
    return path


@pytest.fixture(scope="session")
def data_dir() -> Path:
    return _require(DATA_DIR)


@pytest.fixture(scope="session")
def fadul_dir(data_dir: Path) -> Path:
    return _require(data_dir / "fadul")


@pytest.fixture(scope="session")
def fadul_truth(fadul_dir: Path) -> dict[str, str]:
    """File name -> firearm, from ground_truth.csv."""
    with open(fadul_dir / "ground_truth.csv", newline="") as handle:
        return {row["file"]: row["firearm"] for row in csv.DictReader(handle)}


@pytest.fixture(scope="session")
def x3p_samples_dir(data_dir: Path) -> Path:
    return _require(data_dir / "x3p-samples")


@pytest.fixture(scope="session")
def nbide_dir(data_dir: Path) -> Path:
    return _require(data_dir / "nbide-2d")
