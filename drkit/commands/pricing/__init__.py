"""`drkit pricing`: the price table's upkeep."""
