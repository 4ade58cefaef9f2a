"""Per-shard Parquet tables and the DuckDB catalog over them.

Layout under ``<home>`` (a local folder or an fsspec/pyarrow URI such as ``s3://bucket/prefix``)::

    tables/<table>/<shard>.parquet   one file per (table, shard), replaced whole on re-materialisation
    catalog.duckdb                   one view per table over tables/<table>/*.parquet
    manifests/<shard>.json           what the shard registry decided (see shards.py)

On local disk writes go to a hidden temporary name in the same folder and are renamed into place,
so a killed run leaves either the old file or the new one, never half of one, and a re-run replaces
rows instead of appending them. On an object store there is no rename (a "move" is copy + delete):
the whole object is serialised first (in memory, or spooled to a local temporary file for streamed
tables) and then sent under its final key in one PUT or one multipart upload, which the store makes
visible only on completion; a writer killed mid-upload leaves the previous object (and an incomplete
upload that a bucket lifecycle rule aborts), never part of a new one. Many processes (k8s pods) can
write different shards at once; only the catalog file is single-writer, and it is only touched to
(re)create views.

Object-store homes (``s3://bucket/prefix``) use pyarrow's S3 filesystem with the standard variables
(``AWS_ENDPOINT_URL[_S3]``, ``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``, ``AWS_REGION`` /
``AWS_DEFAULT_REGION``). DuckDB reads them through Arrow datasets registered in an in-memory
connection, not through its ``httpfs`` extension: the duckdb wheel does not bundle httpfs and
``INSTALL httpfs`` downloads it, which an offline cluster or CI cannot do.
"""

from __future__ import annotations

import os
import re
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from .errors import StoreError
from .schema import TABLES, VIEWS

_SHARD_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,127}$")
CONTENT_VERSION_KEY = b"vidgen.content_version"  # Parquet footer key: the rows' hash, computed while writing
VOLATILE = ("seconds",)  # timing columns: not part of a table's identity


class ContentHash:
    """The hash of rows as written (timing columns left out): a re-run that writes the same rows gets the same
    value, so Dagster marks nothing downstream stale for nothing. Computed from the Arrow data while it is
    written, and stored in the file's footer, so nobody re-reads a table to learn its version."""

    def __init__(self, schema: pa.Schema):
        import hashlib

        self._h = hashlib.sha256()
        self._drop = [c for c in VOLATILE if c in schema.names]

    def update(self, data: pa.Table) -> None:
        data = data.drop_columns(self._drop) if self._drop else data
        sink = pa.BufferOutputStream()
        with pa.ipc.new_stream(sink, data.schema) as writer:
            writer.write_table(data)
        self._h.update(sink.getvalue())

    def hexdigest(self) -> str:
        return self._h.hexdigest()[:24]


def resolve_home(home: str | os.PathLike | None = None) -> str:
    """``home`` if given, else ``$VIDGEN_HOME``, else ``./vidgen_home``; local paths made absolute."""
    value = str(home or os.environ.get("VIDGEN_HOME") or "vidgen_home")
    if "://" in value:
        return value.rstrip("/")
    return str(Path(value).expanduser().resolve())


class Store:
    def __init__(self, home: str | os.PathLike | None = None):
        self.home = resolve_home(home)
        self.fs, self._root = _filesystem(self.home)
        self.is_local = isinstance(self.fs, pafs.LocalFileSystem)

    # -- paths ---------------------------------------------------------------------------------
    def _path(self, *parts: str) -> str:
        return "/".join([self._root.rstrip("/"), *parts])

    def uri(self, *parts: str) -> str:
        """A path DuckDB and users can read: local path, or the full URI on an object store."""
        return self._path(*parts) if self.is_local else "/".join([self.home, *parts])

    def table_file(self, table: str, shard: str) -> str:
        _check(table, shard)
        return self._path("tables", table, f"{shard}.parquet")

    @property
    def catalog_path(self) -> str:
        if not self.is_local:
            raise StoreError("the DuckDB catalog file lives on local disk; set a local --home for it")
        return self._path("catalog.duckdb")

    # -- writes --------------------------------------------------------------------------------
    def write(self, table: str, shard: str, rows: list[dict[str, Any]] | pa.Table) -> str:
        """Replace ``table``'s rows for ``shard`` atomically. Returns the file path."""
        final = self.table_file(table, shard)  # validates both names
        schema = TABLES[table]
        if isinstance(rows, pa.Table):
            data = rows.select(schema.names).cast(schema)
        else:
            data = pa.Table.from_pylist([{k: r.get(k) for k in schema.names} for r in rows], schema=schema)
        content = ContentHash(schema)
        content.update(data)
        data = data.replace_schema_metadata({**(data.schema.metadata or {}), CONTENT_VERSION_KEY: content.hexdigest()})
        if not self.is_local:
            buf = pa.BufferOutputStream()  # the whole file first: nothing is sent before it is complete
            pq.write_table(data, buf, compression="zstd")
            self._put(final, buf.getvalue())
            return final
        folder = final.rsplit("/", 1)[0]
        self.fs.create_dir(folder, recursive=True)
        tmp = f"{folder}/{_tmp_name(shard)}"
        try:
            with self.fs.open_output_stream(tmp) as sink:
                pq.write_table(data, sink, compression="zstd")
            self.fs.move(tmp, final)  # rename(2) locally: atomic replacement
        except BaseException:
            try:
                self.fs.delete_file(tmp)
            except (FileNotFoundError, OSError):
                pass
            raise
        return final

    @contextmanager
    def writer(self, table: str, shard: str) -> Iterator[Callable[[list[dict[str, Any]]], None]]:
        """Write ``table``'s rows for ``shard`` in parts (one row group per call), for tables too big to
        hold in memory at once; the file appears atomically when the block exits without error."""
        final = self.table_file(table, shard)
        schema = TABLES[table]
        if self.is_local:
            fs, folder = self.fs, final.rsplit("/", 1)[0]
            self.fs.create_dir(folder, recursive=True)
        else:  # spool to local disk, then one upload under the final key (see the module docstring)
            fs, folder = pafs.LocalFileSystem(), tempfile.gettempdir()
        tmp = f"{folder}/{_tmp_name(shard if self.is_local else SPOOL_PREFIX + shard)}"
        sink = fs.open_output_stream(tmp)
        out = pq.ParquetWriter(sink, schema, compression="zstd")

        content = ContentHash(schema)

        def write(rows: list[dict[str, Any]]) -> None:
            if rows:
                part = pa.Table.from_pylist([{k: r.get(k) for k in schema.names} for r in rows], schema=schema)
                content.update(part)
                out.write_table(part)

        try:
            yield write
            out.add_key_value_metadata({CONTENT_VERSION_KEY: content.hexdigest()})
            out.close()
            sink.close()
            if self.is_local:
                self.fs.move(tmp, final)
            else:
                with pa.memory_map(tmp) as spooled:
                    self._put(final, spooled.read_buffer())
                fs.delete_file(tmp)
        except BaseException:
            for closing in (out.close, sink.close):
                try:
                    closing()
                except Exception:  # noqa: BLE001 - already failing; the temp file is removed below
                    pass
            try:
                fs.delete_file(tmp)
            except (FileNotFoundError, OSError):
                pass
            raise

    def _put(self, final: str, payload: bytes | pa.Buffer) -> None:
        """Send a complete object under ``final`` on an object store. One ``write`` call hands the whole
        payload to Arrow's S3 stream (a single PUT when small, else a multipart upload): no Python-level
        exception can fall between two parts, so the stream's close (which completes the upload, also
        on an exception: pyarrow exposes no abort) only ever completes a whole object; Arrow completes
        a multipart upload only after every part succeeded."""
        with self.fs.open_output_stream(final) as sink:
            sink.write(payload)

    def write_bytes(self, rel: str, payload: bytes) -> str:
        final = self._path(*rel.split("/"))
        if not self.is_local:
            self._put(final, payload)
            return final
        folder = final.rsplit("/", 1)[0]
        self.fs.create_dir(folder, recursive=True)
        tmp = f"{folder}/{_tmp_name('')}"
        with self.fs.open_output_stream(tmp) as sink:
            sink.write(payload)
        self.fs.move(tmp, final)
        return final

    def exists(self) -> bool:
        """Whether this is a vidgen home: it holds a configuration record, manifests or tables."""
        kinds = [self.fs.get_file_info(self._path(name)).type for name in ("vidgen.yaml", MANIFESTS_DIR, "tables")]
        return any(k != pafs.FileType.NotFound for k in kinds)

    def require(self) -> Store:
        """This store, or a clear error when there is no home here (a mistyped ``--home`` must never
        create one, nor make an export or a query run against an empty one)."""
        if not self.exists():
            raise StoreError(f"no vidgen home at {self.home} (create one with `vidgen curate PATH --home ...`; "
                             "check --home / $VIDGEN_HOME)")
        return self

    def sweep_temp_files(self, max_age_s: float = 24 * 3600) -> list[str]:
        """Remove temporary files left by killed writers: on local disk those whose writing process is
        gone (the pid is in the name), elsewhere those older than ``max_age_s``; for an object-store home
        also its writers' local spool files (in the temp folder) whose process is gone. Returns what
        was removed."""
        removed = []
        places = [(self.fs, folder, "") for folder in
                  [self._path("tables", t) for t in TABLES] + [self._path(MANIFESTS_DIR), self._root]]
        if not self.is_local:
            places.append((pafs.LocalFileSystem(), tempfile.gettempdir(), SPOOL_PREFIX))
        now = time.time()
        for fs, folder, prefix in places:
            local = isinstance(fs, pafs.LocalFileSystem)
            for info in fs.get_file_info(pafs.FileSelector(folder, allow_not_found=True)):
                m = _TMP_RE.match(info.base_name)
                if info.type != pafs.FileType.File or not m or not info.base_name.startswith("." + prefix):
                    continue
                pid = int(m.group(1))
                if local and m.group(2) == TEMP_HOST:
                    stale = not pid_alive(pid)
                else:
                    mtime = info.mtime.timestamp() if info.mtime else now
                    stale = now - mtime > max_age_s
                if stale:
                    try:
                        fs.delete_file(info.path)
                        removed.append(info.path)
                    except (FileNotFoundError, OSError):
                        pass
        return removed

    def delete(self, rel: str) -> None:
        """Remove one file under the home (nothing when it is not there)."""
        try:
            self.fs.delete_file(self._path(*rel.split("/")))
        except FileNotFoundError:
            pass

    def read_bytes(self, rel: str) -> bytes:
        with self.fs.open_input_stream(self._path(*rel.split("/"))) as src:
            return src.read()

    def list_files(self, rel: str, suffix: str = "") -> list[str]:
        selector = pafs.FileSelector(self._path(*rel.split("/")), allow_not_found=True)
        names = [i.base_name for i in self.fs.get_file_info(selector) if i.type == pafs.FileType.File]
        return sorted(n for n in names if n.endswith(suffix) and not n.startswith("."))

    # -- reads ---------------------------------------------------------------------------------
    def has(self, table: str, shard: str) -> bool:
        return self.fs.get_file_info(self.table_file(table, shard)).type == pafs.FileType.File

    def read(self, table: str, shard: str | None = None) -> pa.Table:
        """One shard's rows, or every shard's (an empty table with the schema when none exist)."""
        if table not in TABLES:
            raise StoreError(f"unknown table {table!r}; known: {', '.join(TABLES)}")
        schema = TABLES[table]
        if shard is not None:
            if not self.has(table, shard):
                return schema.empty_table()
            with self.fs.open_input_file(self.table_file(table, shard)) as src:
                return _conform(pq.read_table(src), schema)
        parts = []
        for name in self.list_files(f"tables/{table}", ".parquet"):
            with self.fs.open_input_file(self._path("tables", table, name)) as src:
                parts.append(_conform(pq.read_table(src), schema))
        return pa.concat_tables(parts) if parts else schema.empty_table()

    def by_clip(self, table: str, shard: str) -> dict[str, dict[str, Any]]:
        """The shard's rows of a per-clip table keyed by ``clip_id`` (empty when the shard has none)."""
        return {r["clip_id"]: r for r in self.rows(table, shard)} if self.has(table, shard) else {}

    def footer(self, table: str, shard: str) -> tuple[int, str]:
        """(row count, content version) of the shard's file, from its footer alone. Files written before the
        version was kept in the footer are hashed from their rows (the same hash)."""
        with self.fs.open_input_file(self.table_file(table, shard)) as f:
            meta = pq.read_metadata(f)
        version = (meta.metadata or {}).get(CONTENT_VERSION_KEY)
        if version is None:
            content = ContentHash(TABLES[table])
            content.update(self.read(table, shard))
            return meta.num_rows, content.hexdigest()
        return meta.num_rows, version.decode()

    def rows(self, table: str, shard: str | None = None) -> list[dict[str, Any]]:
        return self.read(table, shard).to_pylist()

    # -- catalog -------------------------------------------------------------------------------
    def refresh_catalog(self, retries: int = 40) -> None:
        """(Re)create every view. Retries while another process holds the catalog's write lock.

        On an object-store home there is no catalog file (DuckDB cannot write one there): each query
        builds the views in an in-memory connection instead, so this is a no-op."""
        if not self.is_local:
            return
        delay = 0.05
        for attempt in range(retries):
            try:
                self.fs.create_dir(self._root, recursive=True)
                con = duckdb.connect(self.catalog_path)
                try:
                    self._create_views(con)
                finally:
                    con.close()
                return
            except duckdb.IOException as exc:  # lock held by another writer
                if attempt == retries - 1:
                    raise StoreError(f"catalog {self.catalog_path} stayed locked: {exc}") from exc
                time.sleep(delay)
                delay = min(delay * 2, 1.0)
            except duckdb.Error as exc:  # a table file DuckDB cannot read (damaged, not Parquet)
                raise StoreError(f"catalog {self.catalog_path}: a table file cannot be read: "
                                 f"{str(exc).splitlines()[0]}") from exc

    def _table_files(self) -> dict[str, list[pafs.FileInfo]]:
        """Every table's shard files, from one recursive listing (one request per 1000 objects on an
        object store, where a listing per table cost ~20 requests for every query)."""
        found: dict[str, list[pafs.FileInfo]] = {}
        for info in self.fs.get_file_info(pafs.FileSelector(self._path("tables"), allow_not_found=True,
                                                             recursive=True)):
            table = info.path.rsplit("/", 2)[-2] if info.path.count("/") >= 2 else ""
            if (info.type == pafs.FileType.File and table in TABLES and info.base_name.endswith(".parquet")
                    and not info.base_name.startswith(".")
                    and info.path == self._path("tables", table, info.base_name)):
                found.setdefault(table, []).append(info)
        return found

    def _create_views(self, con: duckdb.DuckDBPyConnection) -> None:
        files_of = self._table_files()
        for table, schema in TABLES.items():
            files = sorted(files_of.get(table, []), key=lambda i: i.path)
            if files and not self.is_local:
                import pyarrow.dataset as pads  # only object-store homes: its import costs seconds

                # Arrow reads the objects (pyarrow's S3 client, the same endpoint and keys as the writes);
                # DuckDB scans the registered dataset with projection and filter pushdown. The explicit
                # schema fills columns that older files lack with nulls (union_by_name's job locally);
                # sizes from the listing spare a HEAD request per file.
                fmt = pads.ParquetFileFormat()
                fragments = [fmt.make_fragment(i.path, self.fs, file_size=i.size) for i in files]
                con.register(table, pads.FileSystemDataset(fragments, schema, fmt, self.fs))
            elif files:
                glob = self.uri("tables", table, "*.parquet").replace("'", "''")
                con.execute(
                    f"CREATE OR REPLACE VIEW {table} AS SELECT * FROM read_parquet('{glob}', union_by_name=true)"
                )
            else:
                con.execute(f"CREATE OR REPLACE VIEW {table} AS {_empty_select(schema)}")
        for name, sql in VIEWS.items():
            con.execute(f"CREATE OR REPLACE VIEW {name} AS {sql}")

    def connect(self, read_only: bool = True) -> duckdb.DuckDBPyConnection:
        """A connection to the catalog (created on first use). For an object-store home: an in-memory
        connection with the views over the objects (Arrow datasets; there is no catalog file)."""
        if not self.is_local:
            return self._views_connection()
        if not Path(self.catalog_path).exists():
            self.refresh_catalog()
        return duckdb.connect(self.catalog_path, read_only=read_only)

    def _views_connection(self) -> duckdb.DuckDBPyConnection:
        """An in-memory connection with every view over the Parquet globs: reads take no lock on the
        catalog file, so queries never fail while another process refreshes it."""
        con = duckdb.connect(":memory:")
        try:
            self._create_views(con)
        except duckdb.Error as exc:  # a damaged table file: one line naming it, not a traceback
            con.close()
            raise StoreError(f"a table file under {self.uri('tables')} cannot be read: "
                             f"{str(exc).splitlines()[0]}") from exc
        return con

    def query(self, sql: str) -> pa.Table:
        """Run our own SQL (summaries, reports) over the catalog views."""
        with self.views() as views:
            return views.query(sql)

    @contextmanager
    def views(self) -> Iterator[Views]:
        """One in-memory connection with every view, for several queries (building the views costs more
        than a summary's query)."""
        con = self._views_connection()
        try:
            yield Views(con)
        finally:
            con.close()

    def user_query(self, sql: str) -> pa.Table:
        """Run a user's SQL read-only: one SELECT statement, only this home's tables readable, no file
        written or read elsewhere (DuckDB's external access is limited to ``<home>/tables`` and the
        setting is locked so the statement cannot lift it). On an object-store home DuckDB itself
        opens no file at all: the views scan Arrow datasets registered before the lock-down."""
        con = self._views_connection()
        try:
            statements = con.extract_statements(sql)
            if len(statements) != 1 or statements[0].type != duckdb.StatementType.SELECT:
                kinds = ", ".join(st.type.name for st in statements) or "nothing"
                raise StoreError(f"vidgen query runs one read-only SELECT statement; got {kinds}")
            tables_dir = self.uri("tables").replace("'", "''") + "/"
            con.execute(f"SET allowed_directories = ['{tables_dir}']")
            con.execute("SET enable_external_access = false")
            con.execute("SET lock_configuration = true")
            return con.sql(sql).to_arrow_table()
        finally:
            con.close()


@dataclass
class Views:
    """The catalog's views in one open connection (:meth:`Store.views`)."""

    con: duckdb.DuckDBPyConnection

    def query(self, sql: str) -> pa.Table:
        rel = self.con.sql(sql)
        return rel.to_arrow_table() if rel is not None else pa.table({})


MANIFESTS_DIR = "manifests"
SPOOL_PREFIX = "vidgen-spool-"  # an object-store writer's local file (sweep_temp_files removes dead ones)
TEMP_HOST = re.sub(r"[^A-Za-z0-9-]", "-", os.uname().nodename)[:40] or "host"
# Temp names carry the writer's host and pid so a later sweep can tell a dead writer's debris from a
# live writer's file: .<prefix>.<pid>@<host>.<random>.tmp
_TMP_RE = re.compile(r"^\..*?\.?(\d+)@([A-Za-z0-9-]+)\.[0-9a-f]{32}\.tmp$")


def _filesystem(home: str) -> tuple[pafs.FileSystem, str]:
    """pyarrow's filesystem and root path for a home. For ``s3://`` the endpoint comes from
    ``AWS_ENDPOINT_URL_S3`` / ``AWS_ENDPOINT_URL`` explicitly (recent pyarrow reads them itself, older
    releases do not, and a MinIO / Ceph / moto endpoint is usually plain http on a private port)."""
    if "://" not in home:
        return pafs.LocalFileSystem(), Path(home).as_posix()
    scheme, rest = home.split("://", 1)
    endpoint = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
    if scheme != "s3" or not endpoint or "?" in rest:
        try:
            return pafs.FileSystem.from_uri(home)
        except (pa.ArrowInvalid, OSError) as exc:
            raise StoreError(f"cannot open home {home}: {exc}") from exc
    if not rest.split("/", 1)[0]:
        raise StoreError(f"home {home} names no bucket (s3://bucket/prefix)")
    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
    http = endpoint.startswith("http://")
    # allow_delayed_open: an object smaller than a part goes up in one PUT instead of a three-request
    # multipart upload; either way it is visible only once complete.
    fs = pafs.S3FileSystem(endpoint_override=endpoint.split("://", 1)[-1].rstrip("/"),
                           scheme="http" if http else "https", region=region,
                           allow_delayed_open=True)
    return fs, rest.rstrip("/")


def _tmp_name(prefix: str) -> str:
    return f".{prefix + '.' if prefix else ''}{os.getpid()}@{TEMP_HOST}.{uuid.uuid4().hex}.tmp"


def pid_alive(pid: int) -> bool:
    """Whether a process with this id exists on this host (a writer's or a run's: is it still there?)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def _check(table: str, shard: str) -> None:
    if table not in TABLES:
        raise StoreError(f"unknown table {table!r}; known: {', '.join(TABLES)}")
    if not _SHARD_RE.match(shard):
        raise StoreError(f"invalid shard id {shard!r}")


def _conform(table: pa.Table, schema: pa.Schema) -> pa.Table:
    """Old files may lack columns added later: add them as nulls, keep the schema's order."""
    cols = []
    for f in schema:
        if f.name in table.column_names:
            cols.append(table[f.name].cast(f.type))
        else:
            cols.append(pa.nulls(table.num_rows, f.type))
    return pa.Table.from_arrays(cols, schema=schema)


_DUCK_TYPES = {
    pa.string(): "VARCHAR", pa.float64(): "DOUBLE", pa.float32(): "FLOAT", pa.int64(): "BIGINT",
    pa.bool_(): "BOOLEAN", pa.binary(): "BLOB",
}


def _duck_type(t: pa.DataType) -> str:
    if pa.types.is_list(t):
        return _duck_type(t.value_type) + "[]"
    return _DUCK_TYPES[t]


def _empty_select(schema: pa.Schema) -> str:
    cols = ", ".join(f"CAST(NULL AS {_duck_type(f.type)}) AS {f.name}" for f in schema)
    return f"SELECT {cols} WHERE false"
