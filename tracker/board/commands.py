"""``tracker summary …``: build the board summary from scripts."""

from __future__ import annotations

import click


@click.group()
def summary() -> None:
    """Build and publish the Place Board's quarterly summary."""
