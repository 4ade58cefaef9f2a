"""Ingest: find footage, group it into shards, and record every video's probe, hash and state."""
