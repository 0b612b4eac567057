"""The RPC table matches the wire contract, and every row has its handler."""

from __future__ import annotations

import grpc

from biometric_exchange.exceptions import PartnerUnavailable
from biometric_exchange.node.rpc import BY_NAME, IDENTIFY, REQUEST_DETAILS, RPCS, SERVICE
from biometric_exchange.node.serve import HANDLERS
from biometric_exchange.node.status import RemoteRefusal
from biometric_exchange.v1 import exchange_pb2 as pb


def test_every_method_of_the_service_has_one_row_with_its_message_classes() -> None:
    service = pb.DESCRIPTOR.services_by_name["Exchange"]
    assert service.full_name == SERVICE
    assert [rpc.name for rpc in RPCS] == [method.name for method in service.methods]
    for method in service.methods:
        rpc = BY_NAME[method.name]
        assert rpc.request.DESCRIPTOR.full_name == method.input_type.full_name
        assert rpc.reply.DESCRIPTOR.full_name == method.output_type.full_name
        assert rpc.path == f"/{service.full_name}/{method.name}"
        sealed = method.input_type.full_name == pb.SealedEnvelope.DESCRIPTOR.full_name
        assert (rpc.sealing is not None) == sealed


def test_every_row_has_a_handler_and_a_distinct_meter() -> None:
    assert set(HANDLERS) == {rpc.name for rpc in RPCS}
    assert len({rpc.meter for rpc in RPCS}) == len(RPCS)


def test_sealed_rows_pair_request_and_reply_types() -> None:
    for rpc in RPCS:
        if rpc.sealing is None:
            continue
        names = (
            pb.MessageType.Name(rpc.sealing.request_type),
            pb.MessageType.Name(rpc.sealing.reply_type),
        )
        assert names[0].endswith("_REQUEST") and names[1].endswith("_RESPONSE")
        assert names[0].removesuffix("_REQUEST") == names[1].removesuffix("_RESPONSE")


def test_refusal_codes_are_per_method() -> None:
    exhausted = grpc.StatusCode.RESOURCE_EXHAUSTED
    assert isinstance(IDENTIFY.error(exhausted, "quota"), PartnerUnavailable)
    assert isinstance(REQUEST_DETAILS.error(exhausted, "quota"), RemoteRefusal)
    assert isinstance(IDENTIFY.error(grpc.StatusCode.PERMISSION_DENIED, "no"), RemoteRefusal)
