"""`drkit route`."""
