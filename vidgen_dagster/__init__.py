"""vidgen-dagster: the VidGen-1M video-text curation pipeline as a Dagster asset graph."""

__version__ = "0.1.0"
