"""A copy of a sealed envelope's inner message, opened with its recipient's keys.

For accounting what crossed: every check of opening but the replay check
(``check_fresh``), and nothing recorded, so the recipient's own opening of
the same envelope is undisturbed. The inner message class follows from the
header's message type (``MESSAGE_TYPE_AUDIT_DIGEST_REQUEST`` →
``AuditDigestRequest``).
"""

from __future__ import annotations

from google.protobuf.message import Message

from biometric_exchange.crypto.envelope import verify_and_decrypt
from biometric_exchange.node.link import Link
from biometric_exchange.node.rpc import Sealing
from biometric_exchange.v1 import exchange_pb2 as pb

_PREFIX = "MESSAGE_TYPE_"


def inner_class(message_type: pb.MessageType.ValueType) -> type[Message]:
    """The message a sealed envelope of ``message_type`` carries."""
    words = pb.MessageType.Name(message_type).removeprefix(_PREFIX).split("_")
    name = "".join(word.capitalize() for word in words)
    cls: type[Message] = getattr(pb, name)
    return cls


def _open(
    recipient: Link,
    envelope: pb.SealedEnvelope,
    message_type: pb.MessageType.ValueType,
    in_reply_to: str,
) -> Message:
    opened = verify_and_decrypt(
        recipient.envelope,
        envelope,
        now_ms=recipient.node.clock(),
        expected_type=message_type,
        expected_in_reply_to=in_reply_to,
    )
    message = inner_class(message_type)()
    message.ParseFromString(opened.body)
    return message


def read_request(holder: Link, sealing: Sealing, envelope: pb.SealedEnvelope) -> Message:
    """The request inside ``envelope``, opened by the holder's link to the caller."""
    return _open(holder, envelope, sealing.request_type, "")


def read_reply(
    caller: Link, sealing: Sealing, envelope: pb.SealedEnvelope, request_id: str
) -> Message:
    """The reply to ``request_id`` inside ``envelope``, opened by the caller's link."""
    return _open(caller, envelope, sealing.reply_type, request_id)
