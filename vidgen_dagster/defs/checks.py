"""Asset checks beyond the blocking accounting checks: schema checks on every per-shard table, and
warning-level checks on pass rates outside the configured bounds (``checks.*``).

Schema checks are ERROR severity but not blocking: a wrong column set is a bug to fix, and the
blocking accounting checks already stop bad data from flowing on. Pass-rate checks are WARN: an odd
rate is worth a look (a broken model, a wrong threshold), not a stopped pipeline.
"""


from dataclasses import dataclass

import dagster as dg
import pyarrow.parquet as pq

from ..core.coarse.scoring.registry import STAGES
from ..core.common.schema import TABLES
from .resources import VidgenResource

# asset -> the tables it writes (and the id column that must be unique in each)
ASSET_TABLES: dict[str, list[tuple[str, str | None]]] = {
    "shard_manifest": [("shard_manifest", "path")],
    "videos": [("videos", "video_id")],
    "scenes": [("scenes", None), ("scene_runs", "video_id")],
    "clips": [("clips", "clip_id"), ("dropped_scenes", None)],
    "frames": [("frames", None), ("frame_runs", "clip_id")],
    **{s.name: [(s.name, "clip_id")] for s in STAGES},  # one score table per registered scoring stage
    "coarse_selection": [("coarse_selection", "clip_id")],
    "captions": [("captions", "clip_id")],
    "caption_checks": [("caption_checks", "clip_id")],
    "curated_clips": [("curated_clips", "clip_id")],
}


def schema_problems(store, shard: str, tables: list[tuple[str, str | None]]) -> list[str]:
    problems = []
    for table, key in tables:
        if not store.has(table, shard):
            problems.append(f"{table}: no file for shard {shard}")
            continue
        with store.fs.open_input_file(store.table_file(table, shard)) as f:
            schema = pq.read_schema(f)
        expected = TABLES[table]
        if schema.names != expected.names:
            missing = [c for c in expected.names if c not in schema.names]
            extra = [c for c in schema.names if c not in expected.names]
            problems.append(f"{table}: columns differ (missing {missing}, unexpected {extra})")
            continue
        wrong = [f"{f.name}: {schema.field(f.name).type} != {f.type}" for f in expected
                 if not schema.field(f.name).type.equals(f.type)]
        if wrong:
            problems.append(f"{table}: types differ: {wrong}")
        if key:
            ids = store.read(table, shard).column(key).to_pylist()
            if len(ids) != len(set(ids)):
                problems.append(f"{table}: {len(ids) - len(set(ids))} duplicate {key} value(s)")
            if any(i is None for i in ids):
                problems.append(f"{table}: null {key}")
    return problems


@dataclass(frozen=True)
class RateCheck:
    """A WARN check on the fraction of a table's rows with ``column == value``, within ``checks.<low_key>`` ..
    ``checks.<high_key>``."""

    asset: str
    name: str
    description: str
    table: str
    column: str
    value: str
    low_key: str | None
    high_key: str | None

    def evaluate(self, store, shard: str, bounds: dict) -> dg.AssetCheckResult:
        rows = store.read(self.table, shard).column(self.column).to_pylist() if store.has(self.table, shard) else []
        n = len(rows)
        rate = sum(v == self.value for v in rows) / n if n else 0.0
        low = bounds.get(self.low_key) if self.low_key else None
        high = bounds.get(self.high_key) if self.high_key else None
        ok = n == 0 or ((low is None or rate >= low) and (high is None or rate <= high))
        # The shard and the figures in one line: the UI's check history and `vidgen curate` show it as is.
        limits = " and ".join(x for x in (f"at least {low:g}" if low is not None else "",
                                          f"at most {high:g}" if high is not None else "") if x)
        what = f"shard {shard}: {self.name} {rate:.2f} ({round(rate * n)} of {n})"
        return dg.AssetCheckResult(
            asset_key=dg.AssetKey(self.asset), check_name=self.name, passed=ok, severity=dg.AssetCheckSeverity.WARN,
            description=(f"{what}, {'within' if ok else 'outside'} the bounds ({limits})" if n
                         else f"shard {shard}: no rows"),
            metadata={"shard": shard, "rate": round(rate, 4), "count": n,
                      "lower_bound": -1.0 if low is None else float(low),
                      "upper_bound": -1.0 if high is None else float(high)})


RATE_CHECKS = [
    RateCheck("videos", "failure_rate", "Fraction of the shard's files that failed to open or decode (WARN above "
              "checks.video_failed_max).", "videos", "status", "failed", None, "video_failed_max"),
    RateCheck("coarse_selection", "kept_rate", "Fraction of clips coarse selection kept (WARN outside "
              "checks.coarse_kept_min..coarse_kept_max: a broken scorer or a mis-set threshold).",
              "coarse_selection", "decision", "kept", "coarse_kept_min", "coarse_kept_max"),
    RateCheck("curated_clips", "kept_rate", "Fraction of clips in the final dataset (WARN below "
              "checks.curated_kept_min).", "curated_clips", "state", "kept", "curated_kept_min", None),
    RateCheck("captions", "failure_rate", "Fraction of captioning requests that failed (WARN above "
              "checks.caption_failed_max).", "captions", "status", "failed", None, "caption_failed_max"),
]


def schema_result(store, shard: str, asset: str) -> dg.AssetCheckResult:
    problems = schema_problems(store, shard, ASSET_TABLES[asset])
    return dg.AssetCheckResult(
        asset_key=dg.AssetKey(asset), check_name="schema", passed=not problems, severity=dg.AssetCheckSeverity.ERROR,
        description=f"shard {shard}: " + (f"{len(problems)} schema problem(s)" if problems else "schema as documented"),
        metadata={"shard": shard, "problems": dg.MetadataValue.md("\n".join(f"- {p}" for p in problems) or "none")})


def build_checks() -> list[dg.AssetChecksDefinition]:
    """Every non-blocking check of the per-shard tables in one step after the run's assets (a step per check
    cost each shard run about 0.15 s apiece in event writes alone): a ``schema`` check per asset and the
    pass-rate checks. A run evaluates those of its own assets; each can also be run alone from the UI."""
    specs = [dg.AssetCheckSpec("schema", asset=asset, description=(
        f"The Parquet file(s) of {', '.join(t for t, _ in tables)} have exactly the documented columns and "
        "types, and their id column is unique and non-null.")) for asset, tables in ASSET_TABLES.items()]
    specs += [dg.AssetCheckSpec(c.name, asset=c.asset, description=c.description) for c in RATE_CHECKS]
    rates = {(c.asset, c.name): c for c in RATE_CHECKS}

    @dg.multi_asset_check(specs=specs, can_subset=True, name="table_checks",
                          description="The documented columns and types of every per-shard table, and pass "
                                      "rates within the configured bounds (checks.*).")
    def table_checks(context: dg.AssetCheckExecutionContext, vidgen: VidgenResource):
        shard = context.partition_key
        for key in sorted(context.selected_asset_check_keys, key=lambda k: (k.asset_key.to_user_string(), k.name)):
            asset = key.asset_key.to_user_string()
            if key.name == "schema":
                yield schema_result(vidgen.store, shard, asset)
            else:
                yield rates[(asset, key.name)].evaluate(vidgen.store, shard, vidgen.config["checks"])

    return [table_checks]
