"""The Dagster code location: ``dagster dev -w workspace.yaml`` or ``vidgen ui`` loads ``defs`` for the home
named by ``$VIDGEN_HOME`` (its configuration of record, ``<home>/vidgen.yaml``)."""

from .defs.graph import build_definitions, choose_executor

__all__ = ["build_definitions", "choose_executor", "defs"]

defs = build_definitions()
