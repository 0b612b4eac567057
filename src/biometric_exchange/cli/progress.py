"""Progress of long work on stderr: a live bar on a terminal, else one line per step.

stdout stays for results (``--format json``); when stderr is piped (logs, CI) each
new step, and each tenth of a counted step, prints one line such as
``simulating day 12: 12/30 (40%)``.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TypeVar

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)

from biometric_exchange.cli.common import errors

T = TypeVar("T")

LINE_STEPS = 10
"""A counted step prints at most this many lines when piped (every tenth)."""


class Steps:
    """Reports where long work is: ``update(what, done, total)``, any part optional."""

    def __init__(self, out: Console, what: str, total: int | None) -> None:
        self._out = out
        self._what = what
        self._done = 0
        self._total = total
        self._printed: tuple[str, int] | None = None
        self._bar: Progress | None = None
        self._task: TaskID | None = None

    def start_bar(self) -> Progress:
        """Show a live bar instead of lines (for a terminal); the caller enters it."""
        self._bar = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=self._out,
            transient=False,
        )
        self._task = self._bar.add_task(self._what, total=self._total)
        return self._bar

    def update(
        self, what: str | None = None, done: int | None = None, total: int | None = None
    ) -> None:
        """The current step (``what``), how far it is (``done`` of ``total``)."""
        self._what = what if what is not None else self._what
        self._done = done if done is not None else self._done
        self._total = total if total is not None else self._total
        if self._bar is not None and self._task is not None:
            self._bar.update(
                self._task, description=self._what, completed=self._done, total=self._total
            )
            return
        self._line()

    def _line(self) -> None:
        tenth = self._tenth()
        if self._printed == (self._what, tenth):
            return
        self._printed = (self._what, tenth)
        if self._total:
            shown = f"{self._what}: {self._done:,}/{self._total:,} ({tenth * LINE_STEPS}%)"
        else:
            shown = self._what
        self._out.print(shown, markup=False, highlight=False, soft_wrap=True)

    def _tenth(self) -> int:
        if not self._total:
            return 0
        return min(LINE_STEPS, self._done * LINE_STEPS // self._total)


@contextmanager
def steps(what: str, total: int | None = None, *, out: Console | None = None) -> Iterator[Steps]:
    """Progress of one piece of work, on stderr (or ``out``)."""
    console = out or errors
    reporter = Steps(console, what, total)
    if console.is_terminal:
        with reporter.start_bar():
            yield reporter
        return
    reporter.update()
    yield reporter


class Counted(list[T]):
    """A list that reports each pass over it to ``steps``: the n-th pass is named
    ``passes[n]`` (the last name repeats), its count is how far it has read."""

    def __init__(self, items: Sequence[T], reporter: Steps, passes: Sequence[str]) -> None:
        super().__init__(items)
        self._reporter = reporter
        self._passes = list(passes)
        self._pass = 0

    def __iter__(self) -> Iterator[T]:
        what = self._passes[min(self._pass, len(self._passes) - 1)]
        self._pass += 1
        total = len(self)
        every = max(1, total // 100)
        self._reporter.update(what, 0, total)
        for done, item in enumerate(super().__iter__(), start=1):
            yield item
            if done % every == 0 or done == total:
                self._reporter.update(what, done, total)
