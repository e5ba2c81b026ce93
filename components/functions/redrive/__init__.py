"""Redrive Lambda package."""
