"""`qms backup OUT` and `qms restore ARCHIVE [--verify]`: the whole server in one archive, and back."""
from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
from flask.cli import with_appcontext

from qms.errors import Refused


def _bar(label: str, quiet: bool) -> Any:
    """A progress bar over bytes (or a silent stand-in with --quiet)."""
    return click.progressbar(length=1, label=label, hidden=quiet, show_percent=True)


def _sized(bar: Any) -> Callable[[int], None]:
    def set_length(total: int) -> None:
        bar.length = max(total, 1)

    return set_length


@click.command("backup")
@click.argument("out", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--quiet", is_flag=True, help="No progress bar.")
@with_appcontext
def backup_command(out: Path, quiet: bool) -> None:
    """Write one archive of the whole server: database, objects, keys, checkpoints and logs.

    The archive holds password hashes and signing keys: keep it encrypted and out of reach.
    """
    from qms.backup import services

    if out.exists():
        raise click.ClickException(f"{out.name} exists already: choose a new file name.")
    try:
        with _bar("Backing up", quiet) as bar:
            manifest = services.backup(out, progress=bar.update, sized=_sized(bar))
    except Refused as error:
        raise click.ClickException(str(error)) from None
    records = sum(manifest.record_counts.values())
    click.echo(f"Backup written to {out}: {len(manifest.files)} files, {records} records "
               f"({len(manifest.record_counts)} tables, {manifest.database_kind}).")


@click.command("restore")
@click.argument("archive", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--verify", is_flag=True, help="After restoring, prove the result: counts, object hashes, custody.")
@click.option("--check-only", is_flag=True, help="Check every byte of the archive; restore nothing.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
@with_appcontext
def restore_command(archive: Path, verify: bool, check_only: bool, quiet: bool) -> None:
    """Restore an archive of `qms backup` into this new, empty server (checked before anything is written)."""
    from qms.backup import services

    try:
        with _bar("Checking" if check_only else "Restoring", quiet) as bar:
            bar.length = max(archive.stat().st_size if archive.is_file() else 1, 1)
            manifest = (services.check if check_only else services.restore)(archive, progress=bar.update)
    except Refused as error:
        raise click.ClickException(f"Archive refused, nothing restored: {error}") from None
    if check_only:
        click.echo(f"The archive is intact: {len(manifest.files)} files, made {manifest.created_at}.")
        return
    click.echo(f"Restored {len(manifest.files)} files and {sum(manifest.record_counts.values())} records "
               f"from the backup of {manifest.created_at}.")
    if verify:
        _report(services.prove(manifest))


def _report(proof: Any) -> None:
    for problem in proof.problems:
        click.echo(f"PROBLEM  {problem}", err=True)
    checked = ", ".join(f"{count} {what}" for what, count in proof.checked.items())
    click.echo(f"Verified: {checked}: {'all as in the archive' if proof.ok else f'{len(proof.problems)} problem(s)'}.")
    if not proof.ok:
        sys.exit(1)
