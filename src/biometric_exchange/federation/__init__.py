"""A federation of RCM and SACM member states described in one file, and the node
folders, keys, signed agreements and router folder generated from it."""

from biometric_exchange.federation.description import Federation, load_federation, parse_federation
from biometric_exchange.federation.members import RCM, SACM, conference_of

__all__ = ["RCM", "SACM", "Federation", "conference_of", "load_federation", "parse_federation"]
