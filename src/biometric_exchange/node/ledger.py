"""What crossed the border, field by field, read from the messages themselves.

``crossings`` walks the fields a message has set (``ListFields``) and yields
one ``Crossing`` per value: a repeated field once per element, a map field
once per entry. A field with a ``(disclosure)`` option in exchange.proto is
counted whole under that class (a template is one biometric field, not its
dimension and bytes); an untagged message field is walked into. Each crossing
names the references it sits under (``probe_ref``, ``hit_reference``,
``request_id``, outermost first), so what crossed can be joined with whom it
was about. ``Ledger`` tallies crossings per RPC, direction and field path.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message

from biometric_exchange.v1 import exchange_pb2 as pb

REFERENCES = ("probe_ref", "hit_reference", "request_id")
"""Opaque references that tie a message part to a probe, a hit or a step-2 request."""
REQUEST, REPLY = "request", "reply"
"""The two directions of a call."""

Reference = tuple[str, str]
"""(reference field name, value)."""


def disclosure_of(descriptor: FieldDescriptor) -> str:
    """A field's class from its ``(disclosure)`` option: ``biometric``, ``personal``,
    ``protected``, ``watchlist``, or ``none`` (nothing about a person)."""
    value = descriptor.GetOptions().Extensions[pb.disclosure]
    if value == pb.DISCLOSURE_UNSPECIFIED:
        return "none"
    return pb.Disclosure.Name(value).removeprefix("DISCLOSURE_").lower()


@dataclass(frozen=True)
class Crossing:
    """One field value that crossed: its path, class and the references above it."""

    path: str
    """``IdentifyRequest.probes.template``: the message type, then field names."""
    disclosure: str
    references: tuple[Reference, ...]
    numbers: tuple[int, ...]
    """The field numbers along the path: the order exchange.proto declares them in."""


def crossings(message: Message) -> Iterator[Crossing]:
    """Every set field value of ``message``, recursively (see the module's docstring)."""
    yield from _walk(message, message.DESCRIPTOR.name, (), ())


def _walk(
    message: Message, path: str, above: tuple[Reference, ...], numbers: tuple[int, ...]
) -> Iterator[Crossing]:
    listed = message.ListFields()
    refs = above + tuple(
        (d.name, str(value)) for d, value in listed if d.name in REFERENCES and value
    )
    for descriptor, value in listed:
        here, at = f"{path}.{descriptor.name}", (*numbers, descriptor.number)
        disclosure = disclosure_of(descriptor)
        values: list[Any] = list(value) if descriptor.is_repeated else [value]
        walk_into = (
            descriptor.type == FieldDescriptor.TYPE_MESSAGE
            and disclosure == "none"
            and not _is_map(descriptor)
        )
        for item in values:
            if walk_into:
                yield from _walk(item, here, refs, at)
            else:
                yield Crossing(here, disclosure, refs, at)


def _is_map(descriptor: FieldDescriptor) -> bool:
    entry = descriptor.message_type
    return entry is not None and entry.GetOptions().map_entry


@dataclass
class Ledger:
    """Crossings per (RPC, direction, field path), and each path's class."""

    times: Counter[tuple[str, str, str]] = field(default_factory=Counter)
    classes: dict[str, str] = field(default_factory=dict)
    numbers: dict[str, tuple[int, ...]] = field(default_factory=dict)

    def add(self, rpc: str, direction: str, message: Message) -> list[Crossing]:
        """Tally ``message``, sent by ``rpc`` in ``direction``; return its crossings."""
        found = list(crossings(message))
        for crossing in found:
            self.times[(rpc, direction, crossing.path)] += 1
            self.classes[crossing.path] = crossing.disclosure
            self.numbers[crossing.path] = crossing.numbers
        return found

    def fields(self, rpc: str, direction: str) -> list[dict[str, Any]]:
        """The fields that crossed by ``rpc`` in ``direction`` (path, class, times), in
        the order exchange.proto declares them."""
        paths = [p for (r, d, p) in self.times if (r, d) == (rpc, direction)]
        return [
            {"path": p, "class": self.classes[p], "times": self.times[(rpc, direction, p)]}
            for p in sorted(paths, key=self.numbers.__getitem__)
        ]
