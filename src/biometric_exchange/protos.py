"""Regenerate the committed gRPC/protobuf stubs: ``make protos``.

Stubs live in ``src/biometric_exchange/v1`` (package mirrors the proto
package). ``tests/unit/test_protos.py`` regenerates into a temporary folder
and fails when the committed files differ.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]
PROTO_ROOT = PROJECT_ROOT / "proto"
SOURCE_ROOT = PROJECT_ROOT / "src"
STUB_PACKAGE = Path("biometric_exchange") / "v1"
GENERATED_SUFFIXES = ("_pb2.py", "_pb2.pyi", "_pb2_grpc.py", "_pb2_grpc.pyi")


def proto_files() -> list[Path]:
    return sorted((PROTO_ROOT / STUB_PACKAGE).glob("*.proto"))


def generate(output_root: Path) -> list[Path]:
    """Run protoc (with the mypy plugins) into ``output_root``; return the files."""
    from grpc_tools import protoc  # noqa: PLC0415 - a development dependency

    output_root.mkdir(parents=True, exist_ok=True)
    include = Path(protoc.__file__).parent / "_proto"
    scripts = Path(sys.executable).parent
    arguments = [
        "grpc_tools.protoc",
        f"--plugin=protoc-gen-mypy={scripts / 'protoc-gen-mypy'}",
        f"--plugin=protoc-gen-mypy_grpc={scripts / 'protoc-gen-mypy_grpc'}",
        f"-I{PROTO_ROOT}",
        f"-I{include}",
        f"--python_out={output_root}",
        f"--grpc_python_out={output_root}",
        f"--mypy_out={output_root}",
        f"--mypy_grpc_out={output_root}",
        *(str(p.relative_to(PROTO_ROOT)) for p in proto_files()),
    ]
    if protoc.main(arguments) != 0:
        raise RuntimeError("protoc failed")
    return sorted(
        p for p in (output_root / STUB_PACKAGE).iterdir() if p.name.endswith(GENERATED_SUFFIXES)
    )


def main() -> None:
    target = SOURCE_ROOT / STUB_PACKAGE
    with tempfile.TemporaryDirectory() as scratch:
        for generated in generate(Path(scratch)):
            shutil.copyfile(generated, target / generated.name)
            print(f"wrote {target / generated.name}", file=sys.stderr)
    (target / "__init__.py").touch()


if __name__ == "__main__":
    main()
