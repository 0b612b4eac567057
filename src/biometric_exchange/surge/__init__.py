"""Flow-surge early warning on aggregate daily counts (no person-level data).

``suppression`` keeps small counts from leaving the node; ``detector`` tests a
day's count against its baseline; ``monitor`` assesses both parties' series
and raises ``FLOW_SURGE`` alerts. The counts are stored by ``store.counts``
and exchanged by the node (``node.serve.aggregates``, ``node.send.aggregates``).
"""
