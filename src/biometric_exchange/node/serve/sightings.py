"""The holder's side of ``ReportSightings``: where and when the partner saw the
subject of one of its hits, added to our alert about that subject.

Only a reference we issued to this partner, still valid and not reported
before, is recorded; the others are counted and ignored, so a partner learns
nothing about references that are not its own.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from biometric_exchange.alerts.rules import PartnerSighting, sighting_reported
from biometric_exchange.node.link import Link
from biometric_exchange.node.rpc import REPORT_SIGHTINGS
from biometric_exchange.node.serve.sealed import serve_sealed
from biometric_exchange.serde.sightings import (
    Sighting,
    sightings_request_from_bytes,
    sightings_response_to_bytes,
)
from biometric_exchange.store.hits import HitReference
from biometric_exchange.v1 import exchange_pb2 as pb

_Found = list[tuple[Sighting, HitReference]]


class SightingsHandler:
    """Records one partner's sightings of our subjects."""

    def __init__(self, link: Link) -> None:
        self._link = link

    def handle(self, envelope: pb.SealedEnvelope) -> pb.SealedEnvelope:
        return serve_sealed(self._link, REPORT_SIGHTINGS, envelope, self)

    def check(self, body: bytes) -> list[Sighting]:
        step1 = self._link.terms.step1
        return sightings_request_from_bytes(
            body, limit=step1.max_probes_per_request * step1.max_candidates
        )

    def prepare(self, sightings: list[Sighting]) -> _Found:
        """The sightings that name a valid reference of this partner's."""
        link = self._link
        now = dt.datetime.fromtimestamp(link.node.clock() / 1000, tz=dt.UTC)
        found: _Found = []
        for sighting in sightings:
            reference = link.node.hit_references.get(sighting.hit_reference)
            if reference is not None and reference.valid_for(link.code, now):
                found.append((sighting, reference))
        return found

    def admit(self, sightings: list[Sighting], found: _Found) -> tuple[int, _Found]:
        return len(sightings), found

    def describe(self, admitted: tuple[int, _Found]) -> Mapping[str, Any]:
        return {"sightings": admitted[0]}

    def answer(self, admitted: tuple[int, _Found]) -> tuple[bytes, Mapping[str, Any]]:
        link = self._link
        node = link.node
        recorded = 0
        for sighting, reference in admitted[1]:
            entry = node.records.watchlist_entry(reference.entry_id)
            if entry is None or not node.hit_references.mark_sighted(
                reference.reference, sighting.encountered_at
            ):
                continue
            recorded += 1
            node.alerts.raise_alert(
                sighting_reported(
                    PartnerSighting(
                        link.code,
                        reference.probe_ref,
                        sighting.encounter_point,
                        sighting.encountered_at,
                    ),
                    entry_id=entry.entry_id,
                    category=entry.category,
                    entry_unaccompanied_minor=entry.person.unaccompanied_minor,
                    hit_reference=reference.reference,
                )
            )
        detail = {"recorded": recorded, "ignored": admitted[0] - recorded}
        return sightings_response_to_bytes(recorded), detail
