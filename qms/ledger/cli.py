"""The ledger's part of `qms custody verify`."""
from __future__ import annotations

import click


def check_ledger(*, quiet: bool) -> bool:
    """Compare the database with the log; print problems (and a summary unless quiet); True when intact."""
    from qms.extensions import db
    from qms.ledger import verify_instance

    with db.engine.connect() as connection:
        report = verify_instance(connection)
    for line in report.lines():
        click.echo(f"BROKEN  {line}", err=True)
    if not quiet or not report.ok:
        click.echo(f"Ledger: {report.heads_checked} signed heads, {report.leaves_checked} leaves checked: "
                   f"{'all intact' if report.ok else str(len(report.problems)) + ' problem(s)'}")
    return report.ok
