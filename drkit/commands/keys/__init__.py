"""`drkit keys`: team key digests for the spec."""
