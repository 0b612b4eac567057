"""The bi-regional scenario: RCM and SACM member states along the routes north, the
same world run through a mesh (every pair directly) and through a router."""
