"""Imports every domain's models, so the metadata (and Alembic) sees all tables."""
from __future__ import annotations


def register_models() -> None:
    import qms.auth.models  # noqa: F401
    import qms.trail.models  # noqa: F401
