"""Temporal workflows that host the definition interpreter."""
