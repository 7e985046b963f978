"""The schedulers: one module each, declaring its unit (script format and adapter); registry.py
maps batch.type to them, base.py holds what they share."""
