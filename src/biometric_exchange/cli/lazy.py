"""Sub-commands imported on first use, so a group's ``--help`` stays quick.

Click's lazy-loading pattern on a ``TyperGroup``: each sub-command is named with
its module, attribute and one-line help. Until used, a command is a placeholder
holding that help, which is all the group's help listing (and shell completion)
reads; ``get_command`` imports the module and swaps in the real command.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

import typer
from typer.core import TyperCommand, TyperGroup

if TYPE_CHECKING:
    # Typer vendors Click; its groups' methods take these types.
    from typer._click import Command, Context, HelpFormatter
    from typer._click.shell_completion import CompletionItem


@dataclass(frozen=True)
class LazyCommand:
    """A sub-command by where it lives (``module:attribute``) and its one-line help.

    The attribute is a ``typer.Typer`` (a sub-group) or a command function.
    """

    target: str
    help: str

    def load(self, name: str, group: TyperGroup) -> Command:
        """Import the target and build it as ``group`` would have built it eagerly."""
        module_name, attribute = self.target.split(":")
        target = getattr(importlib.import_module(module_name), attribute)
        holder = typer.Typer(
            rich_markup_mode=group.rich_markup_mode, suggest_commands=group.suggest_commands
        )
        if isinstance(target, typer.Typer):
            holder.add_typer(target, name=name)
        else:
            holder.command(name)(target)
        return typer.main.get_group(holder).commands[name]


class LazyGroup(TyperGroup):
    """A ``TyperGroup`` whose ``lazy_commands`` are imported when first used.

    Subclasses set ``lazy_commands``; its order is the order of the help listing.
    """

    lazy_commands: ClassVar[Mapping[str, LazyCommand]] = {}

    def __init__(self, **attrs: Any) -> None:
        super().__init__(**attrs)
        self._listing = False
        self._unloaded = dict(self.lazy_commands)
        for name, lazy in self.lazy_commands.items():
            self.commands[name] = TyperCommand(name=name, help=lazy.help)

    def get_command(self, ctx: Context, cmd_name: str) -> Command | None:
        if cmd_name in self._unloaded and not self._listing:
            self.commands[cmd_name] = self._unloaded.pop(cmd_name).load(cmd_name, self)
        return super().get_command(ctx, cmd_name)

    @contextmanager
    def _listed(self) -> Iterator[None]:
        """While the group lists its sub-commands, unloaded ones stay placeholders."""
        self._listing = True
        try:
            yield
        finally:
            self._listing = False

    def format_help(self, ctx: Context, formatter: HelpFormatter) -> None:
        with self._listed():
            super().format_help(ctx, formatter)

    def shell_complete(self, ctx: Context, incomplete: str) -> list[CompletionItem]:
        with self._listed():
            return super().shell_complete(ctx, incomplete)
