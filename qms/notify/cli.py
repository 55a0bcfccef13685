"""`qms notify`: send today's e-mail digests (run it daily from cron)."""
from __future__ import annotations

import click
from flask.cli import with_appcontext

from qms.notify.digest import NotConfigured, Unreachable, send_digests


@click.command("notify")
@click.option("--quiet", is_flag=True, help="Only the summary line, no progress.")
@with_appcontext
def notify_command(quiet: bool) -> None:
    """Send each person their daily digest (SOPs to read, actions, calibrations, authorisations, reviews)."""
    try:
        outcome = send_digests(progress=None if quiet else _progress)
    except NotConfigured as error:
        click.echo(str(error))  # not a failure: without SMTP the dashboard alone shows the reminders
        return
    except Unreachable as error:
        click.echo(str(error))
        raise SystemExit(1) from None
    click.echo(f"Digests sent: {outcome.sent}; turned off: {outcome.turned_off}; no e-mail address: "
               f"{outcome.no_address}; inactive: {outcome.inactive}; failed: {len(outcome.failed)}.")
    for failure in outcome.failed:
        click.echo(f"  not sent: {failure}", err=True)
    if outcome.failed:
        raise SystemExit(1)


def _progress(done: int, total: int) -> None:
    click.echo(f"\rPeople {done}/{total}", nl=done == total, err=True)
