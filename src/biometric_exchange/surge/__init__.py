"""Flow-surge early warning on aggregate daily counts (no person-level data).

``aggregates`` counts our encounters per day, nationality and border point,
suppresses small counts and exchanges them with the partner; ``detector``
tests a day's count against its baseline; ``monitor`` ties them together and
raises ``FLOW_SURGE`` alerts.
"""
