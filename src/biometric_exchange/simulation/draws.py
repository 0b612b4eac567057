"""Shared state while a world is drawn: seeded streams, identity numbers, the template model."""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
from numpy.typing import NDArray

from biometric_exchange.synthetic.identities import DOCUMENT_SPACE, People, draw_people
from biometric_exchange.synthetic.names import NamePools
from biometric_exchange.synthetic.templates import TemplateModel

NAME_POOL_SIZE = 500
"""Faker draws per locale and kind (the population generator uses 2000; fewer make a
run start faster, and names only need to differ between identities)."""
STREAMS = (
    "people",
    "faces",
    "routes",
    "meet",
    "captures",
    "listings",
    "surge",
    "fillers",
    "resemblance",
)
"""One independent stream per part of the world, so changing one part (e.g. the
number of filler entries) leaves the others as they were. New streams go at the
end: the earlier ones stay what they were."""
MEXICO_SEED = 484
"""Mixed with the seed for Mexico's streams (ISO 3166-1 numeric code of Mexico)."""
MEXICO_STREAMS = ("meet", "captures", "listings", "fillers")
"""Mexico's parts of the world, drawn only when Mexico is a node of the run, from a
sequence of their own: a run without Mexico draws exactly what it drew before."""


@dataclass(frozen=True)
class Calendar:
    """The simulated days: ``start`` and the ``days - 1`` days after it."""

    start: dt.date
    days: int

    @classmethod
    def ending_before(cls, today: dt.date, days: int) -> Calendar:
        """``days`` days ending the day before ``today``: the nodes' clocks run on the real
        date (agreement in force, watchlist validity, hit-reference lifetimes)."""
        return cls(today - dt.timedelta(days=days), days)

    def date(self, day: int) -> dt.date:
        return self.start + dt.timedelta(days=day)

    @property
    def end(self) -> dt.date:
        """The day after the last simulated day."""
        return self.date(self.days)

    def day_of(self, moment: dt.datetime | dt.date) -> int:
        day = moment.date() if isinstance(moment, dt.datetime) else moment
        return (day - self.start).days


@dataclass
class Draw:
    """The streams of one world and the next free identity number."""

    seed: int
    calendar: Calendar
    model: TemplateModel = field(default_factory=TemplateModel)
    next_number: int = 1
    names_seed: int | None = None
    """The name pools' seed (the seed by default). Which names the pools hold changes
    no other draw, so a study that needs no names passes a fixed one: the Faker pools
    are then built once for all its seeds."""

    def __post_init__(self) -> None:
        sequence = np.random.SeedSequence(self.seed)
        self.rngs = {
            name: np.random.default_rng(child)
            for name, child in zip(STREAMS, sequence.spawn(len(STREAMS)), strict=True)
        }
        names_seed = self.seed if self.names_seed is None else self.names_seed
        self.pools = NamePools(names_seed, NAME_POOL_SIZE)
        self.document_offset = int(sequence.generate_state(1, np.uint64)[0]) % DOCUMENT_SPACE

    @cached_property
    def mexico_rngs(self) -> dict[str, np.random.Generator]:
        """Mexico's streams (``MEXICO_STREAMS``), made on first use, from ``[seed, 484]``."""
        sequence = np.random.SeedSequence([self.seed, MEXICO_SEED])
        children = sequence.spawn(len(MEXICO_STREAMS))
        return {
            name: np.random.default_rng(child)
            for name, child in zip(MEXICO_STREAMS, children, strict=True)
        }

    def people(
        self,
        stream: str | np.random.Generator,
        n: int,
        *,
        sex: NDArray[np.str_] | None = None,
        adult: NDArray[np.bool_] | None = None,
    ) -> People:
        """``n`` new identities (distinct numbers, hence distinct documents), drawn from
        ``stream`` (a name of ``STREAMS``, or a generator of its own)."""
        numbers = self.next_number + np.arange(n, dtype=np.int64)
        self.next_number += n
        return draw_people(
            self.rngs[stream] if isinstance(stream, str) else stream,
            numbers,
            self.calendar.start,
            self.pools,
            document_offset=self.document_offset,
            sex=sex,
            adult=adult,
        )


def concat_people(parts: list[People]) -> People:
    columns = {
        f.name: np.concatenate([getattr(part, f.name) for part in parts])
        for f in dataclasses.fields(People)
    }
    return People(**columns)
