"""One table from our errors to gRPC status codes, with safe public messages.

The partner sees only the fixed message; the audit log keeps the detail. The
first row an error is an instance of wins: a subclass with a message of its own
comes before its base.
"""

from __future__ import annotations

import grpc

from biometric_exchange.exceptions import (
    AgreementMismatch,
    AgreementRefusal,
    BlindBusy,
    BlindClaimRefused,
    BlindRoundExpired,
    ExchangeError,
    HitCapExceeded,
    ImplausibleProbe,
    InvalidEnvelope,
    InvalidInput,
    NearDuplicateProbe,
    PartnerUnavailable,
    PeerNotAuthorized,
    PendingRequestsCapped,
    QuotaExceeded,
    ReferenceExpired,
    StepOneSuspended,
)

STATUS_TABLE: tuple[tuple[type[ExchangeError], grpc.StatusCode, str], ...] = (
    (InvalidEnvelope, grpc.StatusCode.UNAUTHENTICATED, InvalidEnvelope.public_message),
    (PeerNotAuthorized, grpc.StatusCode.UNAUTHENTICATED, PeerNotAuthorized.public_message),
    (NearDuplicateProbe, grpc.StatusCode.PERMISSION_DENIED, NearDuplicateProbe.public_message),
    (BlindClaimRefused, grpc.StatusCode.PERMISSION_DENIED, BlindClaimRefused.public_message),
    (AgreementRefusal, grpc.StatusCode.PERMISSION_DENIED, AgreementRefusal.public_message),
    (HitCapExceeded, grpc.StatusCode.RESOURCE_EXHAUSTED, HitCapExceeded.public_message),
    (StepOneSuspended, grpc.StatusCode.RESOURCE_EXHAUSTED, StepOneSuspended.public_message),
    (QuotaExceeded, grpc.StatusCode.RESOURCE_EXHAUSTED, QuotaExceeded.public_message),
    (BlindBusy, grpc.StatusCode.RESOURCE_EXHAUSTED, BlindBusy.public_message),
    (
        PendingRequestsCapped,
        grpc.StatusCode.RESOURCE_EXHAUSTED,
        PendingRequestsCapped.public_message,
    ),
    (AgreementMismatch, grpc.StatusCode.FAILED_PRECONDITION, AgreementMismatch.public_message),
    (ReferenceExpired, grpc.StatusCode.FAILED_PRECONDITION, ReferenceExpired.public_message),
    (ImplausibleProbe, grpc.StatusCode.INVALID_ARGUMENT, ImplausibleProbe.public_message),
    (InvalidInput, grpc.StatusCode.INVALID_ARGUMENT, "malformed request"),
    (PartnerUnavailable, grpc.StatusCode.UNAVAILABLE, "temporarily unavailable"),
    # Retried by the caller (ABORTED is retryable): a new round from the start.
    (BlindRoundExpired, grpc.StatusCode.ABORTED, BlindRoundExpired.public_message),
)


def status_for(error: ExchangeError) -> tuple[grpc.StatusCode, str]:
    for error_type, code, message in STATUS_TABLE:
        if isinstance(error, error_type):
            return code, message
    return grpc.StatusCode.INTERNAL, "internal error"


class RemoteRefusal(ExchangeError):
    """The partner answered with an error status; retrying will not help."""

    def __init__(self, code: grpc.StatusCode, details: str) -> None:
        super().__init__(f"partner refused the call: {code.name} ({details})")
        self.code = code


RETRYABLE = frozenset(
    {
        grpc.StatusCode.UNAVAILABLE,
        grpc.StatusCode.DEADLINE_EXCEEDED,
        grpc.StatusCode.RESOURCE_EXHAUSTED,
        grpc.StatusCode.INTERNAL,
        grpc.StatusCode.UNKNOWN,
        grpc.StatusCode.ABORTED,
    }
)


def error_from_status(code: grpc.StatusCode, details: str) -> ExchangeError:
    """What the calling side raises for a partner's error status."""
    if code in RETRYABLE:
        return PartnerUnavailable(f"partner unavailable: {code.name} ({details})")
    return RemoteRefusal(code, details)
