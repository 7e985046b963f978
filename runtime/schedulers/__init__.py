"""Scheduler adapters, keyed by scheduler name (see registry)."""
