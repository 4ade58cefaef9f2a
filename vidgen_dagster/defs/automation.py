"""Automation: new shards arrive through the footage sensor (one run of the whole graph per shard);
this schedule re-curates shards whose assets went stale — a changed threshold, prompt or taxonomy changes
code versions and a pulled model changes its source asset's data version, so only what depends on it runs,
and stored scores are re-used."""


import dagster as dg

from .models import observe_models
from .resources import VidgenResource, video_shards


def build_recurate_schedule(job, cron: str) -> dg.ScheduleDefinition:
    @dg.schedule(job=job, cron_schedule=cron, default_status=dg.DefaultScheduleStatus.STOPPED,
                 description="Requests, per shard, a run of exactly the assets that are stale (never "
                             "materialised, code version changed, or upstream data changed).")
    def recurate_stale_shards(context: dg.ScheduleEvaluationContext, vidgen: VidgenResource):
        from ..runner import upstream_of
        from ..staleness import plan_runs

        observe_models(context.instance, vidgen.config)  # a model pulled since: its scores are stale
        defs = context.repository_def
        keys = upstream_of(defs, None)
        requests = []
        shards = sorted(context.instance.get_dynamic_partitions(video_shards.name))
        plan = plan_runs(defs, context.instance, shards, keys)
        for shard in shards:
            stale = plan.stale[shard]
            if stale:
                requests.append(dg.RunRequest(
                    partition_key=shard, asset_selection=stale,
                    run_key=f"recurate:{shard}:{context.scheduled_execution_time.isoformat()}",
                    tags={"vidgen/source": "recurate_schedule",
                          "vidgen/stale": ",".join(k.to_user_string() for k in stale)[:1000]}))
        if not requests:
            return dg.SkipReason("every shard is up to date")
        context.log.info(f"re-curating {len(requests)} stale shard(s)")
        return requests

    return recurate_stale_shards
