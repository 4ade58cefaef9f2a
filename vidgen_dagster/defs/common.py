"""Helpers shared by the asset modules: progress logging and the materialisation result."""


import time

import dagster as dg

from ..core.common.progress import report
from .resources import VidgenResource


def log_progress(context: dg.AssetExecutionContext, verb: str, every_s: float = 10.0):
    """A progress callback that logs at most every ``every_s`` seconds (and at the end)."""
    state = {"last": 0.0}

    def progress(done: int, total: int, what: str) -> None:
        report(verb, done, total, what)  # the CLI's progress bars, when a CLI command runs this in-process
        now = time.monotonic()
        if done == total or now - state["last"] >= every_s or done == 0:
            state["last"] = now
            context.log.info(f"{verb}: {done}/{total} {what if done < total else ''}".rstrip())

    return progress


VOLATILE = ("seconds",)  # timing columns: not part of an output's identity


def content_version(store, tables: list[str], shard: str) -> str:
    """A data version from the tables' contents: a re-run that writes the same rows keeps the version, so
    Dagster does not mark downstream assets stale for nothing. Files are hashed as bytes, streamed (our
    Parquet writes are deterministic); a table with timing columns is hashed without them (read whole)."""
    import hashlib

    import pyarrow as pa

    from ..core.common.schema import TABLES

    h = hashlib.sha256()
    for table in sorted(tables):
        if not any(c in TABLES[table].names for c in VOLATILE):
            with store.fs.open_input_stream(store.table_file(table, shard)) as f:
                while chunk := f.read(1 << 20):
                    h.update(chunk)
            continue
        t = store.read(table, shard)
        t = t.drop_columns([c for c in VOLATILE if c in t.column_names])
        sink = pa.BufferOutputStream()
        with pa.ipc.new_stream(sink, t.schema) as writer:
            writer.write_table(t)
        h.update(sink.getvalue().to_pybytes())
    return h.hexdigest()[:24]


def result(vidgen: VidgenResource, table: str, shard: str, summary: dict,
           extra_tables: list[str] | None = None, count_table: str | None = None,
           context=None) -> dg.MaterializeResult:
    store = vidgen.store
    # The catalog's views are globs over each table's folder: they see new shard files by themselves and
    # only need (re)creating when a table gets its first file (before that the view is an empty SELECT).
    # Refreshing after every step made parallel runs queue on the catalog file's write lock.
    if any(len(store.list_files(f"tables/{t}", ".parquet")) <= 1 for t in [table, *(extra_tables or [])]):
        store.refresh_catalog()
    metadata: dict = {k: v for k, v in summary.items() if isinstance(v, int | float | str)}
    for t in [table, *(extra_tables or [])]:  # the file's URI: s3://bucket/... on an object-store home
        metadata[f"{t}_file"] = dg.MetadataValue.path(store.uri("tables", t, f"{shard}.parquet"))
    import pyarrow.parquet as pq

    with store.fs.open_input_file(store.table_file(count_table or table, shard)) as f:
        metadata["dagster/row_count"] = pq.read_metadata(f).num_rows
    metadata["dagster/column_schema"] = column_schema(table)
    version = content_version(store, [table, *(extra_tables or [])], shard)
    return dg.MaterializeResult(metadata=metadata, data_version=dg.DataVersion(version))


def column_schema(table: str) -> dg.TableSchema:
    """The table's columns as Dagster shows them (the asset's Columns tab; column-schema change checks)."""
    from ..core.common.schema import TABLES

    return dg.TableSchema(columns=[dg.TableColumn(f.name, str(f.type)) for f in TABLES[table]])


def accounting_check(asset, name: str, account, description: str) -> dg.AssetChecksDefinition:
    """A blocking check that passes when ``account(store, shard)`` finds no problems."""

    @dg.asset_check(asset=asset, name=name, blocking=True, description=description)
    def check(context: dg.AssetCheckExecutionContext, vidgen: VidgenResource) -> dg.AssetCheckResult:
        shard = context.partition_key
        problems = account(vidgen.store, shard)
        return dg.AssetCheckResult(passed=not problems, description=(
            f"shard {shard}: " + (f"{len(problems)} accounting problem(s)" if problems else "every row accounted for")),
            metadata={"shard": shard, "problems": len(problems), "first_problems": dg.MetadataValue.md("\n".join(problems[:20]) or "none")})

    return check
