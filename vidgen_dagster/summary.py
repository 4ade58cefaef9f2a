"""What a home holds, printed after `vidgen curate` and `vidgen demo`: videos by state, clips, dropped scenes,
coarse selection and its reasons, filters not applied, the curated decision, failed checks, and where the
catalog is. Every figure is one query over the catalog's views, built once for the whole summary."""

from __future__ import annotations

import shlex


def print_summary(home: str | None, failed_checks: list | None = None) -> None:
    """What the home holds after a curate; ``failed_checks``: the curate's own (else read from the instance)."""
    from .core.common.store import Store

    store = Store(home)
    with store.views() as views:  # one set of views for every query below
        _tables_summary(views)
    _failed_checks_summary(store.home, failed_checks)
    # An object-store home has no catalog file: queries build the views in memory over its tables.
    where = store.catalog_path if store.is_local else f"in-memory views over {store.uri('tables')}"
    print(f"catalog: {where}  (try: vidgen query --home {shlex.quote(str(store.home))} "
          "\"SELECT * FROM clips\")")


def _tables_summary(views) -> None:
    states = views.query(
        "SELECT state, count(*) AS videos FROM video_states GROUP BY state ORDER BY state"
    ).to_pylist()
    clips = views.query("SELECT count(*) AS n, coalesce(sum(duration_s), 0) AS s FROM clips").to_pylist()[0]
    dropped = views.query(
        "SELECT split_part(reason, ':', 1) AS reason, count(*) AS n FROM dropped_scenes GROUP BY 1 ORDER BY 1"
    ).to_pylist()
    print("videos: " + ", ".join(f"{r['state']}={r['videos']}" for r in states))
    print(f"clips: {clips['n']} ({clips['s']:.1f} s)"
          + ("; dropped scenes: " + ", ".join(f"{r['reason']}={r['n']}" for r in dropped) if dropped else ""))
    for r in views.query(
        "SELECT path, state, reason FROM video_states WHERE state IN ('failed', 'duplicate') ORDER BY path"
    ).to_pylist():
        print(f"  {r['state']}: {r['path']}: {r['reason']}")
    _coarse_summary(views)
    _curated_summary(views)


def _failed_checks_summary(home: str, failed: list | None = None) -> None:
    """Failed asset checks (warnings included) of every shard: the UI is not the only place they show."""
    if failed is None:
        from .status import home_failed_checks

        failed = home_failed_checks(home)
    if failed:
        print(f"failed checks: {len(failed)}")
        for c in failed:
            print(f"  {c.shard} {c.line()}")


def _coarse_summary(views) -> None:
    sel = views.query(
        "SELECT decision, count(*) AS n FROM coarse_selection GROUP BY 1 ORDER BY 1").to_pylist()
    if not sel:
        return
    reasons = views.query(
        "SELECT split_part(r, ':', 1) AS reason, count(*) AS n FROM "
        "(SELECT unnest(reasons) AS r FROM coarse_selection) GROUP BY 1 ORDER BY 2 DESC, 1").to_pylist()
    print("coarse selection: " + ", ".join(f"{r['decision']}={r['n']}" for r in sel)
          + ("; reasons: " + ", ".join(f"{r['reason']}={r['n']}" for r in reasons) if reasons else ""))
    na = views.query(
        "SELECT f, count(*) AS n FROM (SELECT unnest(not_applied) AS f FROM coarse_selection) GROUP BY 1 ORDER BY 1"
    ).to_pylist()
    if na:
        why = {r["t"]: r["e"] for r in views.query(
            "SELECT 'visual' AS t, any_value(error) AS e FROM visual_scores WHERE status = 'partial' UNION ALL "
            "SELECT 'motion', any_value(error) FROM motion_scores WHERE status = 'unavailable' UNION ALL "
            "SELECT 'ocr', any_value(error) FROM text_scores WHERE status = 'unavailable'").to_pylist() if r["e"]}
        print("  NOT APPLIED (scores missing): " + ", ".join(f"{r['f']} on {r['n']} clips" for r in na))
        for step, error in sorted(why.items()):
            print(f"    {step}: {error}")
    unsampled = views.query(
        "SELECT count(*) AS n FROM coarse_selection WHERE passed_thresholds AND category IS NULL").to_pylist()[0]["n"]
    if unsampled:
        print(f"  category sampling NOT APPLIED to {unsampled} clips (no category scores)")


def _curated_summary(views) -> None:
    rows = views.query(
        "SELECT state, stage, count(*) AS n, coalesce(sum(duration_s), 0) AS s FROM curated_clips "
        "GROUP BY 1, 2 ORDER BY 1, 2").to_pylist()
    if not rows:
        return
    kept = [r for r in rows if r["state"] == "kept"]
    print("curated: kept=" + str(sum(r["n"] for r in kept))
          + f" ({sum(r['s'] for r in kept):.1f} s); "
          + ", ".join(f"{r['state']}@{r['stage']}={r['n']}" for r in rows if r["state"] != "kept"))
    caps = views.query("SELECT status, any_value(error) AS e, count(*) AS n FROM captions "
                       "WHERE status IN ('unavailable', 'failed') GROUP BY 1").to_pylist()
    for r in caps:
        print(f"  captions {r['status']} for {r['n']} clips: {r['e']}")
