"""The asking side: every call a node makes to a partner, through a ``Link`` and a
``PeerTransport``.

``round_trip`` seals, sends, opens and audits one sealed call; ``worker`` works
the outbox (step 1); ``details`` asks for step-2 details and polls pending
requests; ``digest`` reconciles audit logs; ``aggregates`` fetches surge
counts; ``ping`` checks the partner holds the same agreement.
"""
