"""Bytes → a nistitl ``Message``: every way a file can fail becomes one clear error."""

from __future__ import annotations

import contextlib
import re
import struct
from typing import Any

import nistitl

from biometric_exchange.exceptions import InvalidInput
from biometric_exchange.interop.nist.fields import MAX_FILE_BYTES, Type1

_TYPE1_START = re.compile(rb"1\.001:(\d{1,9})\x1d")
_BINARY_RECORD_TYPES = frozenset({"3", "4", "5", "6", "7", "8"})
_PARSER_FAILURES = (ValueError, IndexError, TypeError, AttributeError, struct.error)


def parse_message(data: bytes, source: str) -> Any:
    """The parsed ``nistitl.Message`` of ``data``, or InvalidInput naming what is wrong."""
    if not data:
        raise InvalidInput(f"{source}: empty file; expected an ANSI/NIST-ITL transaction")
    if len(data) > MAX_FILE_BYTES:
        raise InvalidInput(
            f"{source}: {len(data)} bytes; a transaction may hold at most {MAX_FILE_BYTES}"
        )
    start = _TYPE1_START.match(data)
    if start is None:
        raise InvalidInput(
            f"{source}: not an ANSI/NIST-ITL transaction (it must begin with field 1.001, "
            "the length of its Type-1 record)"
        )
    _refuse_binary_records(data[: int(start.group(1))], source)
    message = nistitl.Message()
    try:
        message.parse(data)
    except nistitl.NistException as exc:
        raise InvalidInput(f"{source}: {_explain(exc, message)}") from None
    except KeyError as exc:
        raise InvalidInput(
            f"{source}: record type {exc.args[0]} is not an ANSI/NIST-ITL record type"
        ) from None
    except _PARSER_FAILURES as exc:
        raise InvalidInput(
            f"{source}: malformed ANSI/NIST-ITL transaction ({exc.__class__.__name__}: {exc})"
        ) from None
    return message


def _refuse_binary_records(type1: bytes, source: str) -> None:
    """Refuse the legacy binary Types 3 to 8 before nistitl walks them.

    nistitl steps over a binary record by its own length field, so a zero
    length would never advance; this project writes and reads none of them.
    """
    header = nistitl.Message()
    with contextlib.suppress(nistitl.NistException, KeyError, *_PARSER_FAILURES):
        header.parse(type1)  # only Type-1: the count check that follows fails, as expected
    count = header[0][int(Type1.CNT)]
    for entry in count.value if count is not None and isinstance(count.value, list) else []:
        if isinstance(entry, list) and entry and entry[0] in _BINARY_RECORD_TYPES:
            raise InvalidInput(
                f"{source}: 1.003 CNT lists a Type-{entry[0]} record; legacy binary records "
                "(Types 3 to 8) are not read by this system"
            )


def _explain(exc: Any, message: Any) -> str:
    error = exc.error
    if error is nistitl.NistError.NIST_TOO_SHORT:
        return "truncated: the file ends inside a record (its length field promises more bytes)"
    if error is nistitl.NistError.NIST_TOO_LONG:
        return "bytes that form no whole record: the file is truncated, damaged or altered"
    count = message[0][int(Type1.CNT)]
    if error is nistitl.NistError.BAD_CONTENT and "different number" in str(exc) and count:
        return (
            f"1.003 CNT lists {len(count) - 1} records after Type-1 but the file holds "
            f"{len(message) - 1}: the file is truncated or was altered"
        )
    return f"malformed ANSI/NIST-ITL transaction ({exc})"
