"""`drkit preview`."""
