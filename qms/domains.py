"""The domains of the application, in navigation order.

Each is a package `qms/<name>/` with the same files (models.py, services.py, views.py, forms.py,
templates/<name>/). `create_app` imports each domain's models and views, registers its
blueprint, adds its navigation entries (`NAV` in the package) and its dashboard panels
(`dashboard_panels` in its services). Its API blueprint (`qms/api/<name>.py`) is listed in
`qms.api.BLUEPRINTS`.
"""
from __future__ import annotations

import importlib
import importlib.util
from types import ModuleType

DOMAINS = ("main", "auth", "trail", "people", "equipment", "documents", "evidence", "audits", "quality",
           "comparisons", "firearms")


def _present(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:
        return False


def domain_modules(suffix: str) -> list[ModuleType]:
    """`qms.<domain>.<suffix>` for every domain that has one ("" for the package itself)."""
    names = [f"qms.{domain}{'.' + suffix if suffix else ''}" for domain in DOMAINS]
    return [importlib.import_module(name) for name in names if _present(name)]
