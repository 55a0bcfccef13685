"""`qms custody ...`: verify every chain and checkpoint, write a signed checkpoint, show the public key."""
from __future__ import annotations

import sys

import click
from flask.cli import with_appcontext


@click.group("custody")
def custody() -> None:
    """Chain of custody: verification and signed checkpoints."""


@custody.command("verify")
@click.option("--quiet", is_flag=True, help="Print only problems.")
@with_appcontext
def verify_command(quiet: bool) -> None:
    """Check every custody chain and every checkpoint; exit 1 naming the first broken event per item."""
    from qms.evidence.checkpoints import verify_all
    from qms.extensions import db
    from qms.ledger.cli import check_ledger

    with db.engine.connect() as connection:
        report = verify_all(connection)
    for line in report.lines():
        click.echo(f"BROKEN  {line}", err=True)
    if not quiet or not report.ok:
        click.echo(f"{report.chains.items_checked} items, {report.chains.events_checked} events, "
                   f"{report.checkpoints_checked} checkpoints checked: "
                   f"{'all intact' if report.ok else str(len(report.lines())) + ' problem(s)'}")
    if not report.ok:
        _record_discrepancies(report)
    if not check_ledger(quiet=quiet) or not report.ok:
        sys.exit(1)


def _record_discrepancies(report) -> None:  # type: ignore[no-untyped-def]
    """Open (once a day) one custody-discrepancy nonconformity per unit whose items have problems."""
    from qms.evidence.services import record_discrepancies
    from qms.extensions import db
    from qms.trail.audited import set_actor

    set_actor(db.session, user_id=None, username="qms custody verify", unit_id=None)
    for opened in record_discrepancies(report):
        click.echo(f"Nonconformity {opened.number} (unit {opened.unit_id}): {opened.title}", err=True)
    db.session.commit()


@custody.command("checkpoint")
@click.option("--reason", default="daily checkpoint", show_default=True)
@with_appcontext
def checkpoint_command(reason: str) -> None:
    """Sign the current head of every chain (run daily, e.g. from cron or a systemd timer)."""
    from qms.evidence.checkpoints import key_path, write_checkpoint
    from qms.extensions import db
    from qms.trail.audited import set_actor

    set_actor(db.session, user_id=None, username="qms custody checkpoint", unit_id=None)
    checkpoint = write_checkpoint(db.session, reason=reason)
    db.session.commit()
    click.echo(f"Checkpoint {checkpoint.id}: {checkpoint.tree_size} chains, root {checkpoint.root_hash}, "
               f"signed with key {checkpoint.key_id[:16]} ({key_path()}).")


@custody.command("public-key")
@with_appcontext
def public_key_command() -> None:
    """Print the checkpoint public key (PEM), to give to an outside party who keeps checkpoints."""
    from qms.evidence.checkpoints import public_key_pem

    click.echo(public_key_pem(), nl=False)
