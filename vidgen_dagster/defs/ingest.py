"""Ingest: shard manifests, probed videos, and the footage sensor that adds shards."""


import json
import os

import dagster as dg

from ..core.common.errors import VidgenError
from ..core.ingest import shards as shardlib
from ..core.ingest.videos import run_shard_manifest, run_videos
from .common import log_progress, result
from .resources import VidgenResource, video_shards


@dg.asset(partitions_def=video_shards, group_name="ingest", code_version="1", kinds={"parquet"},
          description="The shard's registered files (path, size, mtime) from its manifest.")
def shard_manifest(context: dg.AssetExecutionContext, vidgen: VidgenResource) -> dg.MaterializeResult:
    summary = run_shard_manifest(vidgen.store, context.partition_key)
    return result(vidgen, "shard_manifest", context.partition_key, summary, context=context)


@dg.asset(partitions_def=video_shards, group_name="ingest", code_version="1", deps=[shard_manifest],
          kinds={"parquet", "pyav"},
          description="PyAV probe of every file: stream facts, real fps/frame count, sha256; "
                      "status ok | failed (with reason) | duplicate.")
def videos(context: dg.AssetExecutionContext, vidgen: VidgenResource) -> dg.MaterializeResult:
    summary = run_videos(vidgen.store, context.partition_key, log_progress(context, "probing"))
    for path, error in summary.pop("failures").items():
        context.log.warning(f"video failed: {path}: {error}")
    return result(vidgen, "videos", context.partition_key, summary, context=context)


def build_footage_sensor(job) -> dg.SensorDefinition:
    @dg.sensor(job=job, minimum_interval_seconds=30, default_status=dg.DefaultSensorStatus.STOPPED,
               description="Watches the inbox, waits until files stop growing, groups them into shards, "
                           "adds the partitions and requests one run per new shard.")
    def footage_sensor(context: dg.SensorEvaluationContext, vidgen: VidgenResource) -> dg.SensorResult:
        inbox = os.environ.get("VIDGEN_INBOX") or vidgen.config["ingest"]["inbox"]
        if not inbox:
            return dg.SensorResult(skip_reason="no inbox configured (ingest.inbox or $VIDGEN_INBOX)")
        ingest = vidgen.config["ingest"]
        cursor = json.loads(context.cursor) if context.cursor else {}
        store = vidgen.store
        try:
            candidates = shardlib.discover([inbox], ingest["extensions"])
        except VidgenError as exc:
            return dg.SensorResult(skip_reason=str(exc))
        shardlib.add_input_roots(store, [inbox])  # manifests may only name files under registered inputs
        known = {f.path for m in shardlib.load_manifests(store) for f in m.files}
        ready, pending = shardlib.settled(
            (p for p in candidates if str(p) not in known), cursor.get("seen", {}), ingest["settle_seconds"]
        )
        new = shardlib.register(store, ready, int(ingest["shard_size"]))
        # Shards whose manifest exists but whose partition was never added (crash in between).
        existing = set(context.instance.get_dynamic_partitions(video_shards.name))
        missing = sorted({m.shard for m in shardlib.load_manifests(store)} - existing)
        requests = [dg.RunRequest(partition_key=s, run_key=f"footage:{s}") for s in missing]
        if not missing:
            return dg.SensorResult(skip_reason=f"no settled new files ({len(pending)} still changing)",
                                   cursor=json.dumps({"seen": pending}))
        context.log.info(f"registered {len(new)} new shard(s); requesting runs for {missing}")
        return dg.SensorResult(
            run_requests=requests,
            dynamic_partitions_requests=[video_shards.build_add_request(missing)],
            cursor=json.dumps({"seen": pending}),
        )

    return footage_sensor
