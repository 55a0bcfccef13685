"""Imports every domain's models, so the metadata (and Alembic) sees all tables."""
from __future__ import annotations


def register_models() -> None:
    from qms.domains import domain_modules

    domain_modules("models")
