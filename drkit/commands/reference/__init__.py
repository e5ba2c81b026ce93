"""`drkit reference`: the spec and policy references, generated from the code."""
