"""The federation router: forwards members' sealed envelopes it cannot open.

Like Prüm II's central router, it authenticates members (mutual TLS, each
member's CA pinned), forwards each envelope to the partner it is addressed to
and returns the partner's sealed reply, refuses a pair without terms
(``PERMISSION_DENIED``) and a member over its daily quota
(``RESOURCE_EXHAUSTED``), and records the routing metadata of every call in
its own hash-chained audit log. It holds no member's envelope keys.
"""
