"""``imagegate doctor`` (what to fix, reading only) and ``imagegate gc`` (what crashes and
abandoned uploads leave behind)."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from imagegate.cli.common import DataDir, console, fail, open_store, settings


def doctor(data_dir: DataDir = None) -> None:
    """Check libvips, the store and the configuration; say what to fix. Changes nothing."""
    from imagegate.assembly.doctor import examine

    marks = {
        "ok": "[green]ok  [/green]",
        "warn": "[yellow]warn[/yellow]",
        "fail": "[red]FAIL[/red]",
    }
    worst = "ok"
    for finding in examine(settings(data_dir)):
        console.print(f"{marks[finding.status]} {finding.check:16} {finding.detail}")
        if finding.status == "fail" or (finding.status == "warn" and worst == "ok"):
            worst = finding.status
    raise typer.Exit(1 if worst == "fail" else 0)


def migrate(data_dir: DataDir = None) -> None:
    """Create or upgrade the database's schema to the one this version expects. Safe to run
    from many nodes at once: one migrates, under a database lock, the others wait and find
    nothing left to do. Refuses a schema newer than this version knows."""
    with open_store(data_dir, migrate=True) as gate:
        status = gate.health.schema_status()
    console.print(f"schema at {status.current}; up to date")


def gc(
    data_dir: DataDir = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Report what would go; remove nothing.")
    ] = False,
    grace: Annotated[
        int,
        typer.Option(
            min=0, help="Seconds: leftovers younger than this are kept (uploads in flight)."
        ),
    ] = 3600,
    force: Annotated[
        bool, typer.Option("--force", help="Go ahead even if the store looks misconfigured.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Remove what crashes and abandoned uploads leave: orphan blobs, temporary files,
    expired direct-upload drafts. Safe while the server runs."""
    from imagegate.usecases.maintenance import CollectionRefused

    with open_store(data_dir) as gate:
        try:
            report = gate.gc.collect(grace=grace, dry_run=dry_run, force=force)
        except CollectionRefused as exc:
            fail(f"{exc}; nothing was removed")
    if as_json:
        print(json.dumps(report.as_dict()))
        return
    verb = "to remove" if dry_run else "removed"
    console.print(f"{report.blobs} blobs, {report.referenced} referenced by an image.")
    console.print(f"  orphan blobs {verb}: {report.orphans_removed}")
    if report.orphans_young:
        console.print(f"  orphan blobs kept (younger than {grace} s): {report.orphans_young}")
    if report.orphans_failed:
        console.print(
            f"  [red]orphan blobs that could not be removed: {report.orphans_failed}[/red]"
        )
    console.print(f"  temporary files {verb}: {report.temp_files}")
    console.print(f"  expired drafts {verb}: {report.expired_drafts}")
    if report.shared_images:
        console.print(f"  deleted images with renders in the shared tier: {report.shared_images}")


def levels_build(
    data_dir: DataDir = None,
    rebuild: Annotated[
        bool,
        typer.Option("--all", help="Derive every image's copies again, not only missing ones."),
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Derive the reduced copies of images that lack them (stored before copies were kept,
    or lost). Safe while the server runs; renders use each copy once it is stored."""
    from collections.abc import Iterator

    from imagegate.core.models import Image

    with open_store(data_dir) as gate:
        levels = gate.levels
        if levels is None:
            fail("reduced copies are turned off (IMAGEGATE_LEVELS_QUEUE=0)")

        def every_image() -> Iterator[Image]:
            for account in gate.accounts.store.all():
                offset = 0
                while page := gate.images.store.by_offset(account.id, offset, 500):
                    yield from page
                    offset += len(page)

        built, failed = levels.build_missing(every_image(), rebuild=rebuild)
    if as_json:
        print(json.dumps({"built": built, "failed": failed}))
    else:
        console.print(f"reduced copies derived for {built} images; {failed} failed")
    if failed:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.command()(doctor)
    app.command()(migrate)
    app.command("gc")(gc)
    levels = typer.Typer(help="Reduced copies of the originals, which renders read.")
    levels.command("build")(levels_build)
    app.add_typer(levels, name="levels")
