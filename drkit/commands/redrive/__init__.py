"""`drkit redrive`."""
