"""Per-clip scorers. Each works on sampled frames (HxWx3 uint8 **BGR** numpy arrays, the frames
stage's analysis resolution) and never opens a video. Model-bound scorers raise
:class:`~vidgen_dagster.core.errors.ModelUnavailableError` when their weights or package are absent.
"""
