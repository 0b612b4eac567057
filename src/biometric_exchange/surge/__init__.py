"""Flow-surge early warning on aggregate daily counts (no person-level data).

``suppression`` keeps small counts from leaving the node; ``series`` turns
counts into series; ``exact`` is the conditional test of a window against its
baseline, ``detector`` one series on one day, ``family`` Holm's correction,
``scan`` a node's series day by day as one family a day, ``impact`` the
grades; ``monitor`` raises ``FLOW_SURGE`` alerts. The counts are stored by
``store.counts`` and exchanged by the node (``node.serve.aggregates``,
``node.send.aggregates``).
"""
