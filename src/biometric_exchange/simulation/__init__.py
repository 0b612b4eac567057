"""Migration-corridor simulations over the real node logic (synthetic data only)."""
