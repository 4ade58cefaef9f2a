"""The ``models`` group: one observable source asset per model-bound step (``<step>_model``).

Its data version is the step's model fingerprint (:func:`~vidgen_dagster.models.registry.fingerprint`:
backend, model id, revision, where the weights are and their size — no model is loaded). The assets that run
a model depend on it, so pulling, replacing or removing a model makes exactly those assets stale through
Dagster's own staleness (the UI's "stale" marker, ``vidgen curate``, ``vidgen status`` and the re-curation
schedule all read the same records), while loading the code never looks at a model cache.

The fingerprints are recorded when something needs them — :func:`observe_models` at the start of
``vidgen curate``, ``vidgen status`` and the schedule's evaluation, and "Observe sources" in the UI —
and only when they changed, so a no-op curate writes no event.
"""

from __future__ import annotations

import warnings

import dagster as dg

from ..models.registry import STEPS, fingerprint
from .resources import VidgenResource

GROUP = "models"


def model_key(step: str) -> dg.AssetKey:
    return dg.AssetKey(f"{step}_model")


def _model_source(step: str) -> dg.SourceAsset:
    # observable_source_asset is beta in this Dagster: its warning would print on every command's stderr.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=dg.BetaWarning)

        @dg.observable_source_asset(
            key=model_key(step), group_name=GROUP,
            description=f"What `{step}` will run (`vidgen models check {step}`). Its data version is the model "
                        "fingerprint; a pulled, replaced or removed model makes the assets that use it stale.")
        def source(vidgen: VidgenResource) -> dg.DataVersion:
            return dg.DataVersion(fingerprint(vidgen.config, step))

    return source


MODEL_SOURCES: list[dg.SourceAsset] = [_model_source(step) for step in STEPS]


def observe_models(instance: dg.DagsterInstance, config: dict) -> list[str]:
    """Record each step's current fingerprint in ``instance`` where it differs from the last one recorded.
    Returns the steps whose fingerprint changed (first observations included)."""
    from dagster._core.definitions.data_version import DATA_VERSION_TAG, extract_data_version_from_entry

    changed = []
    for step in STEPS:
        key, version = model_key(step), fingerprint(config, step)
        last = instance.get_latest_data_version_record(key, is_source=True)
        recorded = extract_data_version_from_entry(last.event_log_entry) if last is not None else None
        if recorded is not None and recorded.value == version:
            continue
        instance.report_runless_asset_event(dg.AssetObservation(asset_key=key, tags={DATA_VERSION_TAG: version}))
        changed.append(step)
    return changed
