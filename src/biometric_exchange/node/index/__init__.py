"""The node's in-memory galleries: its watchlist (``watchlist``, searched for every
probe) and its own checked encounters (``encounters``, for identity conflicts
and movements)."""
