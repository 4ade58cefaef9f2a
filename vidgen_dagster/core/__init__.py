"""Dagster-free domain logic: media probing/decoding, scene detection, shards, storage.

Nothing under ``core`` imports dagster, so every piece can be tested and reused on its own.
"""
