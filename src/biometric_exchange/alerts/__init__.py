"""Early-warning rules: which alert an exchange event raises."""
