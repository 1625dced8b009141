"""The ``freezer`` command: talks to the Freezer API, and shows what is installed.

Sub-commands beyond the built-in ones come from plugins through the
``register_commands`` hook.
"""

from __future__ import annotations

import json

import click

from freezer_core import plugins


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="freezer-core", prog_name="freezer")
def cli() -> None:
    """Freezer: backup, restore and disaster recovery."""


@cli.command("plugins")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
def list_plugins(fmt: str) -> None:
    """List installed storages, engines, modes and hook plugins (without importing them)."""
    found = plugins.installed()
    if fmt == "json":
        click.echo(json.dumps([p.__dict__ for p in found], indent=2))
        return
    rows = [("KIND", "NAME", "DISTRIBUTION", "VERSION")]
    rows += [(p.kind, p.name, p.distribution, p.version) for p in found]
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    for row in rows:
        click.echo("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=False)).rstrip())


def main() -> None:
    from freezer_cli import client

    client.register(cli)
    plugins.plugin_manager().hook.register_commands(cli=cli)
    cli()
