"""What an audit entry records: the kind of event and its outcome."""

from __future__ import annotations

from enum import StrEnum


class AuditEvent(StrEnum):
    IDENTIFY_SENT = "identify.sent"
    IDENTIFY_RECEIVED = "identify.received"
    IDENTIFY_REPLY_SENT = "identify.reply_sent"
    IDENTIFY_REPLY_RECEIVED = "identify.reply_received"
    # Blind step 1's second half (its first half is audited as identify.*).
    REVEAL_SENT = "identify.reveal_sent"
    REVEAL_RECEIVED = "identify.reveal_received"
    REVEAL_REPLY_SENT = "identify.reveal_reply_sent"
    REVEAL_REPLY_RECEIVED = "identify.reveal_reply_received"
    PEER_REFUSED = "peer.refused"
    # A partner's Ping (counted: store.call_counts).
    PING_RECEIVED = "ping.received"
    # Bytes that do not parse as the method's request (counted: store.refusals).
    REQUEST_UNDECODABLE = "request.undecodable"
    # After a hit: where and when the sender saw the holder's subject.
    SIGHTINGS_SENT = "sightings.sent"
    SIGHTINGS_RECEIVED = "sightings.received"
    SIGHTINGS_REPLY_SENT = "sightings.reply_sent"
    SIGHTINGS_REPLY_RECEIVED = "sightings.reply_received"
    # Step 2.
    DETAILS_SENT = "details.sent"
    DETAILS_RECEIVED = "details.received"
    DETAILS_REPLY_SENT = "details.reply_sent"
    DETAILS_REPLY_RECEIVED = "details.reply_received"
    DETAILS_DECIDED = "details.decided"
    # Retention and reconciliation.
    AUDIT_PURGED = "audit.purged"
    DATA_PURGED = "retention.purged"
    DIGEST_SENT = "audit_digest.sent"
    DIGEST_RECEIVED = "audit_digest.received"
    # Alert review.
    ALERT_TRANSITION = "alert.transition"
    ALERT_ASSIGNED = "alert.assigned"
    # The operator console: officer accounts and sign-ins.
    OFFICER_CHANGED = "officer.changed"
    CONSOLE_SIGN_IN = "console.sign_in"
    # Aggregate counts for surge detection.
    AGGREGATES_SENT = "aggregates.sent"
    AGGREGATES_RECEIVED = "aggregates.received"
    # Keys.
    DATA_KEY_ROTATED = "keys.data_key_rotated"
    # A federation router: envelopes forwarded between members, and refusals.
    ROUTE_FORWARDED = "route.forwarded"
    ROUTE_REFUSED = "route.refused"


class AuditOutcome(StrEnum):
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    FAILED = "failed"
