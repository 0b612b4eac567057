"""The committed stubs must be what `make protos` generates from proto/."""

from __future__ import annotations

from pathlib import Path

from biometric_exchange import protos


def test_committed_stubs_match_the_proto_files(tmp_path: Path) -> None:
    generated = protos.generate(tmp_path)
    committed_dir = protos.SOURCE_ROOT / protos.STUB_PACKAGE
    assert {p.name for p in generated} == {
        "exchange_pb2.py",
        "exchange_pb2.pyi",
        "exchange_pb2_grpc.py",
        "exchange_pb2_grpc.pyi",
        "server_reflection_pb2.py",
        "server_reflection_pb2.pyi",
        "server_reflection_pb2_grpc.py",
        "server_reflection_pb2_grpc.pyi",
    }
    stale = [p.name for p in generated if p.read_bytes() != (committed_dir / p.name).read_bytes()]
    assert not stale, f"stale stubs {stale}: run `make protos` and commit the result"
