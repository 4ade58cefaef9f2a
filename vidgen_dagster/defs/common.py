"""Helpers shared by the asset modules: progress logging and the materialisation result."""


import time

import dagster as dg

from .resources import VidgenResource


def log_progress(context: dg.AssetExecutionContext, verb: str, every_s: float = 10.0):
    """A progress callback that logs at most every ``every_s`` seconds (and at the end)."""
    state = {"last": 0.0}

    def progress(done: int, total: int, what: str) -> None:
        now = time.monotonic()
        if done == total or now - state["last"] >= every_s or done == 0:
            state["last"] = now
            context.log.info(f"{verb}: {done}/{total} {what if done < total else ''}".rstrip())

    return progress


def result(vidgen: VidgenResource, table: str, shard: str, summary: dict,
           extra_tables: list[str] | None = None, count_table: str | None = None) -> dg.MaterializeResult:
    store = vidgen.store
    store.refresh_catalog()
    metadata: dict = {k: v for k, v in summary.items() if isinstance(v, int | float | str)}
    for t in [table, *(extra_tables or [])]:
        metadata[f"{t}_file"] = dg.MetadataValue.path(store.table_file(t, shard))
    metadata["dagster/row_count"] = store.read(count_table or table, shard).num_rows
    return dg.MaterializeResult(metadata=metadata)
