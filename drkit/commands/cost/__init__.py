"""`drkit cost`."""
