"""Coarse curation: the one decode of every clip's frames, the per-clip scorers (``scoring/``), near-duplicates and
coarse selection (thresholds, then category-balanced sampling)."""
