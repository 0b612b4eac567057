"""``bx alerts``: what an operator reviews, and the review workflow.

Reading: ``list`` (filters), ``show`` (evidence and history), ``export``,
``watch``. Every command names the officer (``--operator`` or ``BX_OPERATOR``). Acting:
``ack``, ``investigate``, ``escalate``, ``confirm``, ``dismiss``, ``close``.
Nothing here prints a person's name: alerts hold record ids and references,
and evidence keys that could hold personal data are withheld.

This module holds the Typer app; the commands live in ``alerts_reading``,
``alerts_review`` and ``alerts_watch``, the tables in ``alerts_views``.
"""

from __future__ import annotations

import typer

from biometric_exchange.cli.alerts_reading import export, list_alerts, show
from biometric_exchange.cli.alerts_review import REVIEW_COMMANDS
from biometric_exchange.cli.alerts_watch import watch

__all__ = ["alerts_app"]

alerts_app = typer.Typer(help="Early-warning alerts raised on a node, and their review.")
alerts_app.command("list")(list_alerts)
alerts_app.command("show")(show)
for _name, _command in REVIEW_COMMANDS.items():
    alerts_app.command(_name)(_command)
alerts_app.command("export")(export)
alerts_app.command("watch")(watch)
