"""Shell completion of values: alert and request ids of the node named before them
(``bx alerts show -n node_panama ALR-<TAB>``). Scenario names: ``cli.scenarios``.

Install it once with ``bx --install-completion`` (bash, zsh, fish, PowerShell).
A completion never fails loudly: anything unreadable completes to nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:
    from biometric_exchange.node.runtime import Node


def _node_ids(
    ctx: typer.Context, incomplete: str, ids: Callable[[Node], Iterable[str]]
) -> list[str]:
    from biometric_exchange.cli.common import opened_node  # noqa: PLC0415 - no cycle

    node = ctx.params.get("node") or ctx.params.get("node_dir")
    if not node:
        return []
    try:
        with opened_node(Path(node)) as opened:
            known = sorted(set(ids(opened)))
    except Exception:
        return []
    return [item for item in known if item.startswith(incomplete)]


def alert_ids(ctx: typer.Context, incomplete: str) -> list[str]:
    """Ids of the alerts on the node given by ``--node``."""
    return _node_ids(ctx, incomplete, lambda node: (a.alert_id for a in node.alerts.list()))


def received_request_ids(ctx: typer.Context, incomplete: str) -> list[str]:
    """Ids of the partners' step-2 requests on the node given by ``--node``."""
    from biometric_exchange.store.details import ReceivedRequests  # noqa: PLC0415

    return _node_ids(
        ctx,
        incomplete,
        lambda node: (r.request_id for r in ReceivedRequests(node.database).queue()),
    )
