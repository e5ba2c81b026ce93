"""`drkit check`."""
