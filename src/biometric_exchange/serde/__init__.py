"""Every protobuf ↔ domain conversion, one module per wire message pair.

``common`` (parsing, templates, times, short texts), ``identify`` (step 1),
``details`` (step 2), ``digest`` (audit reconciliation), ``aggregates``
(surge counts) and ``ping``. Each message has a ``*_to_bytes`` / ``*_from_bytes``
pair (``*_to_proto`` / ``*_from_proto`` for Ping, which is not sealed); the
``from`` side validates and names the field it refuses.
"""
