"""Dagster wiring only: assets, sensors and resources call into ``vidgen_dagster.core``."""
