"""The wire ledger on hand-built messages: counts per field path, classes from the
``(disclosure)`` options, repeated and map fields, and the references above each value."""

from __future__ import annotations

from biometric_exchange.node.inner import inner_class
from biometric_exchange.node.ledger import REPLY, REQUEST, Ledger, crossings, disclosure_of
from biometric_exchange.v1 import exchange_pb2 as pb


def _probe(ref: str) -> pb.Probe:
    return pb.Probe(
        probe_ref=ref,
        template=pb.Template(dim=2, model_id="m", values=b"\x00" * 8),
        scope_rule=pb.SCOPE_RULE_STANDARD,
        scope_commitment=b"c" * 32,
    )


def test_classes_come_from_the_options() -> None:
    fields = pb.Probe.DESCRIPTOR.fields_by_name
    assert disclosure_of(fields["template"]) == "biometric"
    assert disclosure_of(fields["probe_ref"]) == "none"
    assert disclosure_of(pb.Hit.DESCRIPTOR.fields_by_name["category"]) == "watchlist"
    assert disclosure_of(pb.DetailsResponse.DESCRIPTOR.fields_by_name["fields"]) == "personal"


def test_repeated_fields_count_each_element_and_tagged_messages_count_whole() -> None:
    ledger = Ledger()
    request = pb.IdentifyRequest(purpose="border_security", probes=[_probe("a"), _probe("b")])
    ledger.add("Identify", REQUEST, request)
    ledger.add("Identify", REQUEST, pb.IdentifyRequest(purpose="x", probes=[_probe("c")]))
    assert ledger.fields("Identify", REQUEST) == [
        {"path": "IdentifyRequest.purpose", "class": "none", "times": 2},
        {"path": "IdentifyRequest.probes.probe_ref", "class": "none", "times": 3},
        {"path": "IdentifyRequest.probes.template", "class": "biometric", "times": 3},
        {"path": "IdentifyRequest.probes.scope_rule", "class": "none", "times": 3},
        {"path": "IdentifyRequest.probes.scope_commitment", "class": "none", "times": 3},
    ]
    assert ledger.fields("Identify", REPLY) == []


def test_unset_fields_do_not_cross() -> None:
    reply = pb.IdentifyResponse(
        results=[
            pb.ProbeResult(probe_ref="a"),
            pb.ProbeResult(probe_ref="b", hit=True, hits=[pb.Hit(hit_reference="h")]),
        ]
    )
    paths = {c.path: c.disclosure for c in crossings(reply)}
    assert paths == {
        "IdentifyResponse.results.probe_ref": "none",
        "IdentifyResponse.results.hit": "none",
        "IdentifyResponse.results.hits.hit_reference": "none",
    }


def test_map_fields_count_entries() -> None:
    ledger = Ledger()
    reply = pb.DetailsResponse(
        request_id="r1",
        status=pb.DETAILS_STATUS_APPROVED,
        fields={"given_name": "Synthetic", "family_name": "Person", "nationality": "CHN"},
    )
    ledger.add("RequestDetails", REPLY, reply)
    assert {"path": "DetailsResponse.fields", "class": "personal", "times": 3} in ledger.fields(
        "RequestDetails", REPLY
    )


def test_each_value_names_the_references_above_it() -> None:
    reply = pb.IdentifyResponse(
        results=[
            pb.ProbeResult(
                probe_ref="p1",
                hit=True,
                hits=[pb.Hit(hit_reference="h1", category="arrest_warrant")],
            )
        ]
    )
    category = next(c for c in crossings(reply) if c.path.endswith("category"))
    assert category.disclosure == "watchlist"
    assert category.references == (("probe_ref", "p1"), ("hit_reference", "h1"))
    sightings = pb.SightingsRequest(
        sightings=[pb.Sighting(hit_reference="h1", encounter_point="P", encountered_at_ms=5)]
    )
    personal = [c for c in crossings(sightings) if c.disclosure == "personal"]
    assert [c.path for c in personal] == [
        "SightingsRequest.sightings.encounter_point",
        "SightingsRequest.sightings.encountered_at_ms",
    ]
    assert {c.references for c in personal} == {(("hit_reference", "h1"),)}


def test_every_sealed_message_type_names_its_inner_message() -> None:
    for value in pb.MessageType.values():
        if value == pb.MESSAGE_TYPE_UNSPECIFIED:
            continue
        name = pb.MessageType.Name(value)
        cls = inner_class(value)
        assert cls.DESCRIPTOR.full_name.startswith("biometric_exchange.v1.")
        assert name.endswith("_REQUEST") == cls.DESCRIPTOR.name.endswith("Request")
    assert inner_class(pb.MESSAGE_TYPE_AUDIT_DIGEST_RESPONSE) is pb.AuditDigestResponse
