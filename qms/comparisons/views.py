"""Ballistic entries, jobs, review, decisions and case links: thin views over services.py."""
from __future__ import annotations

from flask import render_template

from qms.auth.models import Role
from qms.auth.permissions import requires
from qms.comparisons import bp

READ = frozenset({Role.EXAMINER, Role.QUALITY_MANAGER, Role.AUDITOR})
WRITE = frozenset({Role.EXAMINER})


@bp.get("/comparisons")
@requires(READ)
def entries():  # type: ignore[no-untyped-def]
    return render_template("comparisons/entries.html", entries=[])


from qms.comparisons import exchange_views  # noqa: E402,F401
