"""Relatives and look-alikes: different people whose faces the matcher may take for one.

The latent model alone gives two unrelated people distances near 0.87 that
practically never fall below 0.6, so every false match in a run would be an
impostor-tail accident and person alerts could hardly be wrong. Real
descriptors confuse relatives, twins and look-alikes. Here a face ``b`` made
to resemble a face ``a`` takes the latent

    c + r (a - c) + sqrt(1 - r²) (b - c)        (c: the model's centre)

which keeps its spread around the centre and correlates it with ``a`` by r
(the correlation of the two faces' latents).
Captures of the two then lie about sqrt(128 (2 (1 - r) s² + 2 n²)) apart
(s = 0.048, n ≈ 0.026): r = 0.45 gives about 0.70, r = 0.7 about 0.59,
identical twins (r = 0.97) about 0.44, as close as two captures of one person.

* relatives: ``relatives_share`` of the travellers each resemble another
  traveller of their nationality, r uniform in ``RELATIVE_RHO`` (parents,
  children, siblings);
* twins: ``twin_share`` of those relatives are identical twins, r = ``TWIN_RHO``;
* look-alikes: ``lookalike_share`` of all faces (travellers and watchlist
  fillers) resemble any other face, r uniform in ``LOOKALIKE_RHO``.

The shares and ranges are illustrative assumptions, not measurements: they
give the matcher false matches to get wrong. A face resembles at most one
other, and a face that is resembled is never itself changed, so the order of
the draws does not matter. Everything is drawn from the world's
``resemblance`` stream. SYNTHETIC DATA ONLY.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
from numpy.typing import NDArray

RELATIVE_RHO = (0.2, 0.5)
TWIN_RHO = 0.97
LOOKALIKE_RHO = (0.6, 0.8)
KINDS = ("relative", "twin", "look-alike")


@dataclass(frozen=True)
class Resemblance:
    """Faces made to resemble others: ``face[i]`` resembles ``like[i]`` by ``rho[i]``."""

    face: NDArray[np.int64]
    like: NDArray[np.int64]
    rho: NDArray[np.float64]
    kind: NDArray[np.str_]

    def __len__(self) -> int:
        return int(self.face.size)

    def kind_of(self, first: int, second: int) -> str | None:
        """How two faces resemble each other (None: they do not, by construction)."""
        return self._pairs.get((min(first, second), max(first, second)))

    @cached_property
    def _pairs(self) -> dict[tuple[int, int], str]:
        return {
            (min(a, b), max(a, b)): str(k)
            for a, b, k in zip(
                self.face.tolist(), self.like.tolist(), self.kind.tolist(), strict=True
            )
        }

    def apply(self, latents: NDArray[np.float32], centre: NDArray[np.float32]) -> None:
        """Move each resembling face's latent (in place, see the module notes)."""
        if not len(self):
            return
        rho = self.rho.astype(np.float32)[:, None]
        own = latents[self.face] - centre
        other = latents[self.like] - centre
        latents[self.face] = centre + rho * other + np.sqrt(1.0 - rho * rho) * own


NONE = Resemblance(
    np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0), np.empty(0, dtype="<U10")
)


def draw_resemblance(
    rng: np.random.Generator,
    nationality: NDArray[np.str_],
    travellers: int,
    *,
    relatives_share: float,
    twin_share: float,
    lookalike_share: float,
) -> Resemblance:
    """Draw who resembles whom among ``len(nationality)`` faces, the first ``travellers``
    of them travellers (the rest watchlist fillers)."""
    faces = len(nationality)
    relatives = round(relatives_share * travellers)
    lookalikes = round(lookalike_share * faces)
    if relatives + lookalikes == 0:
        return NONE
    order = rng.permutation(travellers)
    # Half the travellers may resemble, half may be resembled: no face is both.
    resembling, resembled = order[: travellers // 2], np.sort(order[travellers // 2 :])
    chosen = np.sort(resembling[:relatives])
    like = np.empty(chosen.size, np.int64)
    for code in np.unique(nationality[chosen]):
        mine = chosen[nationality[chosen] == code]
        pool = resembled[nationality[resembled] == code]
        if pool.size == 0:
            pool = resembled
        like[np.isin(chosen, mine)] = pool[rng.integers(0, pool.size, mine.size)]
    twin = rng.random(chosen.size) < twin_share
    rho = np.where(twin, TWIN_RHO, rng.uniform(*RELATIVE_RHO, chosen.size))
    kind = np.where(twin, "twin", "relative")
    free = np.setdiff1d(np.arange(faces), np.concatenate([chosen, resembled]))
    looks = np.sort(rng.choice(free, min(lookalikes, free.size), replace=False))
    look_like = resembled[rng.integers(0, resembled.size, looks.size)]
    return Resemblance(
        np.concatenate([chosen, looks]).astype(np.int64),
        np.concatenate([like, look_like]).astype(np.int64),
        np.concatenate([rho, rng.uniform(*LOOKALIKE_RHO, looks.size)]),
        np.concatenate([kind, np.full(looks.size, "look-alike")]).astype("<U10"),
    )
