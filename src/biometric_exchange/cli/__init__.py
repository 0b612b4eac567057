"""The ``bx`` command line."""
