"""The project's error hierarchy.

Each error carries a message that is safe to show to the operator who caused
it. Errors that can cross the border have a fixed, detail-free public message
(see ``node.status``); the full reason goes to the audit log only.
"""


class ExchangeError(Exception):
    """Base class of every error this project raises on purpose."""


class InvalidInput(ExchangeError):
    """A record, file or argument is malformed. The message names the field."""


class RecordRefused(InvalidInput):
    """A record a node will not take in: ``location`` is the refused field's path."""

    def __init__(self, record: str, location: tuple[str, ...], problem: str) -> None:
        super().__init__(f"{record}: {'.'.join(location)}: {problem}")
        self.record = record
        self.location = location
        self.problem = problem


class UnknownNationality(InvalidInput):
    """A nationality code that is neither ISO 3166-1 alpha-3 nor a known ICAO code."""


class InvalidTemplate(InvalidInput):
    """A face template of the wrong shape, model or with non-finite values."""


class ConfigError(ExchangeError):
    """A node's configuration, keys or agreement cannot be loaded."""


class BlindUnavailable(ConfigError):
    """Blind identify was asked for where TenSEAL (the ``blind`` extra) is not installed."""


class InvalidEnvelope(ExchangeError):
    """An envelope failed to open.

    Every cause (signature, recipient, agreement, time window, replay,
    decryption, parsing) raises this one type so that a caller learns
    nothing from the error. ``reason`` is for the receiver's audit log only.
    """

    public_message = "envelope rejected"

    def __init__(self, reason: str) -> None:
        super().__init__(self.public_message)
        self.reason = reason


class PeerNotAuthorized(ExchangeError):
    """The TLS peer is not the agreement partner."""

    public_message = "peer not authorized"


class AgreementRefusal(ExchangeError):
    """The agreement does not allow this request (purpose, scope, size)."""

    public_message = "request refused by the agreement"


class QuotaExceeded(ExchangeError):
    """A daily quota of the agreement is used up; it renews at midnight UTC."""

    public_message = "daily quota exhausted"


class PendingRequestsCapped(ExchangeError):
    """A partner has as many step-2 requests awaiting review as the holder takes at
    once; a slot frees when one is decided."""

    public_message = "too many requests pending review"


class ReferenceExpired(ExchangeError):
    """A hit reference past the lifetime the agreement gives it."""

    public_message = "hit reference expired"


class AgreementMismatch(ExchangeError):
    """The two parties do not hold the same agreement, or it is not in force."""

    public_message = "agreement mismatch"


class PartnerUnavailable(ExchangeError):
    """The partner node could not be reached; the exchange will be retried."""


class ExtractionRefusal(ExchangeError):
    """Marks a refusal of the holder's extraction guard (``node.serve.guard``): step-1
    probes that look like an attempt to rebuild watchlist templates."""


class ImplausibleProbe(InvalidInput, ExtractionRefusal):
    """A probe unlike any face template: its norm or its distance to the population
    mean lies outside the plausible band. The message names the probe."""

    public_message = "implausible probe template"


class NearDuplicateProbe(AgreementRefusal, ExtractionRefusal):
    """A probe repeating a recent probe under another reference, or copying it but for
    one or two coordinates. The message names the probe."""

    public_message = "probe repeats a recent probe"


class HitCapExceeded(QuotaExceeded, ExtractionRefusal):
    """A watchlist entry hit more often by one partner in one UTC day than allowed."""

    public_message = "step 1 suspended until midnight UTC"


class StepOneSuspended(QuotaExceeded, ExtractionRefusal):
    """Step 1 is held for a partner for the rest of the UTC day after guard refusals."""

    public_message = "step 1 suspended until midnight UTC"


class BlindRoundExpired(ExchangeError):
    """A blind reveal names a round the holder no longer holds (expired, answered, or
    lost with a restart): the requester asks again from the start."""

    public_message = "round expired"


class BlindClaimRefused(AgreementRefusal, ExtractionRefusal):
    """A blind reveal naming slots the holder did not give as possible hits: out of
    range, repeated, more than a hit can be, a decoy, or probes not of the round."""

    public_message = "claim refused"


class BlindBusy(ExchangeError):
    """The holder is already evaluating a blind probe of this partner: ask again."""

    public_message = "busy, ask again"
