"""Model backends registry (check / pull)."""
