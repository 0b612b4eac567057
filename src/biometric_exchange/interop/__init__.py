"""Interchange formats for a node's records: ANSI/NIST-ITL 1-2011 transactions."""
