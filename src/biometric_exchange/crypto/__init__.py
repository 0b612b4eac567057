"""Keys, PKI for mutual TLS, sealed envelopes and encryption at rest."""
