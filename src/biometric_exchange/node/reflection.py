"""gRPC server reflection, v1 and v1alpha, from one descriptor pool.

grpcio-reflection serves ``grpc.reflection.v1alpha`` only; tools today ask
``grpc.reflection.v1`` first (grpcurl falls back, others do not). The v1
messages (``biometric_exchange.v1.server_reflection_pb2``, from
``proto/biometric_exchange/v1/server_reflection.proto``) match v1alpha's field
for field, so the v1 service hands each request, re-read as v1alpha, to
grpcio-reflection's servicer and re-reads each answer as v1: one implementation
of the lookups, two names on the wire.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import grpc
from google.protobuf.descriptor_pool import DescriptorPool
from grpc_reflection.v1alpha import reflection as v1alpha
from grpc_reflection.v1alpha import reflection_pb2 as v1alpha_pb

from biometric_exchange.v1 import server_reflection_pb2 as v1_pb
from biometric_exchange.v1 import server_reflection_pb2_grpc as v1_grpc

SERVICE_NAME = v1_pb.DESCRIPTOR.services_by_name["ServerReflection"].full_name
"""``grpc.reflection.v1.ServerReflection``."""
V1ALPHA_SERVICE_NAME: str = v1alpha.SERVICE_NAME
"""``grpc.reflection.v1alpha.ServerReflection``."""


def _as_v1alpha(request: v1_pb.ServerReflectionRequest) -> Any:
    return v1alpha_pb.ServerReflectionRequest.FromString(request.SerializeToString())


class ReflectionV1Servicer(v1_grpc.ServerReflectionServicer):
    """``grpc.reflection.v1.ServerReflection`` answered by grpcio-reflection's lookups."""

    def __init__(self, service_names: Iterable[str], pool: DescriptorPool | None = None) -> None:
        # Untyped: its ServerReflectionInfo is a generator the library does not annotate.
        self._lookups: Any = v1alpha.ReflectionServicer(tuple(service_names), pool=pool)

    def ServerReflectionInfo(  # noqa: N802 - the gRPC method's name
        self,
        request_iterator: Iterator[v1_pb.ServerReflectionRequest],
        context: grpc.ServicerContext,
    ) -> Iterator[v1_pb.ServerReflectionResponse]:
        requests = (_as_v1alpha(request) for request in request_iterator)
        for answer in self._lookups.ServerReflectionInfo(requests, context):
            yield v1_pb.ServerReflectionResponse.FromString(answer.SerializeToString())


def enable_server_reflection(
    service_names: Iterable[str], server: grpc.Server, pool: DescriptorPool | None = None
) -> None:
    """Serve reflection v1 and v1alpha on ``server``, each listing ``service_names``
    and both reflection services (the default descriptor pool unless ``pool``)."""
    names = (*service_names, SERVICE_NAME, V1ALPHA_SERVICE_NAME)
    v1_grpc.add_ServerReflectionServicer_to_server(ReflectionV1Servicer(names, pool), server)
    v1alpha.enable_server_reflection(names, server, pool)
