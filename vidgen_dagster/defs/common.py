"""Helpers shared by the asset modules: progress logging and the materialisation result."""


import time

import dagster as dg

from ..core.common.progress import report
from .resources import VidgenResource


def log_progress(context: dg.AssetExecutionContext, verb: str, every_s: float = 10.0):
    """A progress callback that logs at most every ``every_s`` seconds, and at the end (the step's start is
    Dagster's own STEP_START event: a log line there would be one more event write per step, for nothing)."""
    state = {"last": time.monotonic()}

    def progress(done: int, total: int, what: str) -> None:
        report(verb, done, total, what)  # the CLI's progress bars, when a CLI command runs this in-process
        now = time.monotonic()
        if done == total or now - state["last"] >= every_s:
            state["last"] = now
            context.log.info(f"{verb}: {done}/{total} {what if done < total else ''}".rstrip())

    return progress


def content_version(store, tables: list[str], shard: str) -> str:
    """The data version of an asset that writes ``tables``: the rows' hashes its writes kept in the files'
    footers (a re-run that writes the same rows keeps the version, so nothing downstream goes stale for nothing)."""
    import hashlib

    versions = [store.footer(table, shard)[1] for table in sorted(tables)]
    return versions[0] if len(versions) == 1 else hashlib.sha256("|".join(versions).encode()).hexdigest()[:24]


def result(vidgen: VidgenResource, table: str, shard: str, summary: dict,
           extra_tables: list[str] | None = None, count_table: str | None = None,
           context=None, accounting=None) -> dg.MaterializeResult:
    """The materialisation of an asset that wrote ``table`` (+ ``extra_tables``) for ``shard``: row count,
    column schema, file paths, content-hash data version; with ``accounting`` (``(check name, account)``,
    the asset's blocking check from :func:`accounting_spec`) its result, computed on the files just written."""
    store = vidgen.store
    # The catalog's views are globs over each table's folder: they see new shard files by themselves and
    # only need (re)creating when a table gets its first file (before that the view is an empty SELECT).
    # Refreshing after every step made parallel runs queue on the catalog file's write lock.
    if any(len(store.list_files(f"tables/{t}", ".parquet")) <= 1 for t in [table, *(extra_tables or [])]):
        store.refresh_catalog()
    metadata: dict = {k: v for k, v in summary.items() if isinstance(v, int | float | str)}
    for t in [table, *(extra_tables or [])]:  # the file's URI: s3://bucket/... on an object-store home
        metadata[f"{t}_file"] = dg.MetadataValue.path(store.uri("tables", t, f"{shard}.parquet"))
    metadata["dagster/row_count"] = store.footer(count_table or table, shard)[0]
    metadata["dagster/column_schema"] = column_schema(table)
    version = content_version(store, [table, *(extra_tables or [])], shard)
    checks = []
    if accounting is not None and context is not None:
        name, account = accounting
        if any(k.name == name for k in context.selected_asset_check_keys):
            checks.append(accounting_result(store, shard, account))
    return dg.MaterializeResult(metadata=metadata, data_version=dg.DataVersion(version), check_results=checks)


def column_schema(table: str) -> dg.TableSchema:
    """The table's columns as Dagster shows them (the asset's Columns tab; column-schema change checks)."""
    from ..core.common.schema import TABLES

    return dg.TableSchema(columns=[dg.TableColumn(f.name, str(f.type)) for f in TABLES[table]])


def accounting_spec(asset: str, name: str, description: str) -> dg.AssetCheckSpec:
    """A blocking check evaluated by the asset's own step on the rows it just wrote (no step of its own): when
    it fails, the step fails after recording the materialisation, and nothing downstream runs."""
    return dg.AssetCheckSpec(name, asset=asset, blocking=True, description=description)


def accounting_result(store, shard: str, account) -> dg.AssetCheckResult:
    """Passes when ``account(store, shard)`` finds no problems."""
    problems = account(store, shard)
    return dg.AssetCheckResult(passed=not problems, severity=dg.AssetCheckSeverity.ERROR, description=(
        f"shard {shard}: " + (f"{len(problems)} accounting problem(s)" if problems else "every row accounted for")),
        metadata={"shard": shard, "problems": len(problems),
                  "first_problems": dg.MetadataValue.md("\n".join(problems[:20]) or "none")})
