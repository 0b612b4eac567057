"""SQLite persistence of one node: records, outbox, alerts, audit chain."""
