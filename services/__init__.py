"""ankommen services: contracts, the shared runtime (kit) and the four services."""
