"""The ``vidgen`` command: curate, query, config show, models check/pull, captions check, export,
rebalance, ui, demo."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

from .core.errors import VidgenError


def _add_home(p: argparse.ArgumentParser) -> None:
    p.add_argument("--home", help="store root (default: $VIDGEN_HOME, else ./vidgen_home)")


def _add_config(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", help="YAML file over the defaults (see `vidgen config show`)")


def _print_table(table, fmt: str) -> None:
    rows = table.to_pylist()
    if fmt == "json":
        print(json.dumps(rows, indent=1, default=str, ensure_ascii=False))
        return
    import csv

    writer = csv.writer(sys.stdout)
    writer.writerow(table.column_names)
    for r in rows:
        writer.writerow([r[c] for c in table.column_names])


def cmd_curate(args) -> int:
    from .runner import curate

    result = curate(args.paths, home=args.home, config_path=args.config, shard_size=args.shard_size,
                    until=args.until)
    _summary(args.home)
    if not result.runs:
        print("nothing to do: every shard is up to date")
    return 0 if result.ok else 1


def _summary(home: str | None) -> None:
    from .core.store import Store

    store = Store(home)
    states = store.query(
        "SELECT state, count(*) AS videos FROM video_states GROUP BY state ORDER BY state"
    ).to_pylist()
    clips = store.query("SELECT count(*) AS n, coalesce(sum(duration_s), 0) AS s FROM clips").to_pylist()[0]
    dropped = store.query(
        "SELECT split_part(reason, ':', 1) AS reason, count(*) AS n FROM dropped_scenes GROUP BY 1 ORDER BY 1"
    ).to_pylist()
    print("videos: " + ", ".join(f"{r['state']}={r['videos']}" for r in states))
    print(f"clips: {clips['n']} ({clips['s']:.1f} s)"
          + ("; dropped scenes: " + ", ".join(f"{r['reason']}={r['n']}" for r in dropped) if dropped else ""))
    for r in store.query(
        "SELECT path, state, reason FROM video_states WHERE state IN ('failed', 'duplicate') ORDER BY path"
    ).to_pylist():
        print(f"  {r['state']}: {r['path']}: {r['reason']}")
    _coarse_summary(store)
    _curated_summary(store)
    print(f"catalog: {store.catalog_path}  (try: vidgen query --home {store.home} \"SELECT * FROM clips\")")


def _coarse_summary(store) -> None:
    sel = store.query(
        "SELECT decision, count(*) AS n FROM coarse_selection GROUP BY 1 ORDER BY 1").to_pylist()
    if not sel:
        return
    reasons = store.query(
        "SELECT split_part(r, ':', 1) AS reason, count(*) AS n FROM "
        "(SELECT unnest(reasons) AS r FROM coarse_selection) GROUP BY 1 ORDER BY 2 DESC, 1").to_pylist()
    print("coarse selection: " + ", ".join(f"{r['decision']}={r['n']}" for r in sel)
          + ("; reasons: " + ", ".join(f"{r['reason']}={r['n']}" for r in reasons) if reasons else ""))
    na = store.query(
        "SELECT f, count(*) AS n FROM (SELECT unnest(not_applied) AS f FROM coarse_selection) GROUP BY 1 ORDER BY 1"
    ).to_pylist()
    if na:
        why = {r["t"]: r["e"] for r in store.query(
            "SELECT 'visual' AS t, any_value(error) AS e FROM visual_scores WHERE status = 'partial' UNION ALL "
            "SELECT 'motion', any_value(error) FROM motion_scores WHERE status = 'unavailable' UNION ALL "
            "SELECT 'ocr', any_value(error) FROM text_scores WHERE status = 'unavailable'").to_pylist() if r["e"]}
        print("  NOT APPLIED (scores missing): " + ", ".join(f"{r['f']} on {r['n']} clips" for r in na))
        for step, error in sorted(why.items()):
            print(f"    {step}: {error}")
    unsampled = store.query(
        "SELECT count(*) AS n FROM coarse_selection WHERE passed_thresholds AND category IS NULL").to_pylist()[0]["n"]
    if unsampled:
        print(f"  category sampling NOT APPLIED to {unsampled} clips (no category scores)")


def _curated_summary(store) -> None:
    rows = store.query(
        "SELECT state, stage, count(*) AS n, coalesce(sum(duration_s), 0) AS s FROM curated_clips "
        "GROUP BY 1, 2 ORDER BY 1, 2").to_pylist()
    if not rows:
        return
    kept = [r for r in rows if r["state"] == "kept"]
    print("curated: kept=" + str(sum(r["n"] for r in kept))
          + f" ({sum(r['s'] for r in kept):.1f} s); "
          + ", ".join(f"{r['state']}@{r['stage']}={r['n']}" for r in rows if r["state"] != "kept"))
    caps = store.query("SELECT status, any_value(error) AS e, count(*) AS n FROM captions "
                       "WHERE status IN ('unavailable', 'failed') GROUP BY 1").to_pylist()
    for r in caps:
        print(f"  captions {r['status']} for {r['n']} clips: {r['e']}")


def cmd_captions_check(args) -> int:
    from .core.config import load_config
    from .core.fine_curation import LABELS
    from .core.fine_curation.rules import check_caption

    items = []
    with open(args.file, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                item = json.loads(line)
                items.append((str(item["id"]), str(item["caption"]), item.get("finish_reason")))
            except (ValueError, KeyError, TypeError) as exc:
                print(f"vidgen captions check: {args.file}:{n}: expected {{\"id\": ..., \"caption\": ...}}: {exc}",
                      file=sys.stderr)
                return 2
    out = []
    if args.backend == "rules":
        for cid, caption, finish in items:
            r = check_caption(caption, finish)
            out.append({"id": cid, **{k: r.labels[k] for k in LABELS},
                        "evidence": "; ".join(f"{k}: {e}" for k in LABELS for e in r.reasons.get(k, []))})
    else:
        from .core.captioning.base import load_prompt
        from .core.curation import build_judge_model, judge_concurrency
        from .core.fine_curation.judge import LLMJudge

        cfg = dict(load_config(args.config)["judge"], backend=args.backend)
        model = build_judge_model(cfg)
        judge = LLMJudge(model, load_prompt(cfg.get("prompt") or "judge_v1.txt"),
                         max_attempts=int(cfg.get("max_attempts", 3)), max_tokens=int(cfg.get("max_tokens", 200)))
        verdicts = judge.judge_many([c for _, c, _ in items], concurrency=judge_concurrency(cfg))
        for (cid, _, _), v in zip(items, verdicts, strict=True):
            out.append({"id": cid, **{k: (bool(v.labels[k]) if v.labels else None) for k in LABELS},
                        "status": v.status, "rationale": v.rationale or v.error or ""})
    if args.format == "json":
        for row in out:
            print(json.dumps(row, ensure_ascii=False))
    else:
        import csv

        writer = csv.DictWriter(sys.stdout, fieldnames=list(out[0]) if out else ["id", *LABELS])
        writer.writeheader()
        writer.writerows(out)
    return 0


def cmd_export(args) -> int:
    from .core.config import load_config
    from .core.export import export_dataset
    from .core.store import Store
    from .defs.dataset import export_settings

    config = load_config(args.config)
    s = export_settings(config)
    store = Store(args.home)
    store.refresh_catalog()

    def progress(done: int, total: int, what: str) -> None:
        if done == total or done % 50 == 0:
            print(f"  {done}/{total} {what}", flush=True)

    summary = export_dataset(store, args.out, args.format or s["formats"], clips_per_tar=s["clips_per_tar"],
                             crf=s["crf"], preset=s["preset"], max_short_side=s["max_short_side"],
                             progress=progress)
    print(f"exported {summary['clips']} clips to {args.out}: cut {summary['cut']}, reused {summary['reused']}, "
          f"removed {summary['removed']}, failed {len(summary['failed'])}")
    for fmt, path in (summary.get("files") or {}).items():
        print(f"  {fmt}: {path}")
    for cid, error in (summary.get("failed") or {}).items():
        print(f"  failed: {cid}: {error}")
    return 1 if summary["failed"] else 0


def cmd_models(args) -> int:
    from .core.config import load_config
    from .models import registry

    config = load_config(args.config)
    if args.models_command == "check":
        rows = [s.as_dict() for s in registry.check(config)]
        if args.format == "json":
            print(json.dumps(rows, indent=1))
        else:
            for r in rows:
                mark = "present" if r["present"] else "MISSING"
                rev = f"@{r['revision']}" if r["revision"] else ""
                print(f"{r['step']:<10} {r['backend']:<13} {r['model_id']}{rev}")
                print(f"{'':<10} {mark}: {r['where']}" + (f"  ({r['note']})" if r["note"] else ""))
        return 0
    plan = registry.plan_pull(config)
    if args.dry_run:
        for step, what, dest in plan:
            print(f"{step}: {what} -> {dest}")
        if not plan:
            print("nothing to fetch for this configuration")
        return 0
    failures = registry.pull(config)
    return 1 if failures else 0


def cmd_rebalance(args) -> int:
    from .core.coarse import rebalance
    from .core.config import load_config
    from .core.store import Store

    ref = rebalance(Store(args.home), load_config(args.config))
    print(f"sampling reference generation {ref.generation} frozen over all shards: "
          + ", ".join(f"{c}={f:.3f}" for c, f in sorted(ref.freq.items(), key=lambda x: -x[1])))
    print("every shard's coarse_selection is now stale: run `vidgen curate` (or backfill in the UI) to apply it")
    return 0


def cmd_query(args) -> int:
    import duckdb

    from .core.store import Store

    try:
        table = Store(args.home).query(args.sql)
    except duckdb.Error as exc:
        print(f"vidgen query: {exc}", file=sys.stderr)
        return 2
    _print_table(table, args.format)
    return 0


def cmd_config_show(args) -> int:
    from .core.config import load_config

    config = load_config(args.config)
    if args.format == "json":
        print(json.dumps(config, indent=2))
    else:
        import yaml

        print(yaml.safe_dump(config, sort_keys=False), end="")
    return 0


def cmd_ui(args) -> int:
    from .runner import use_home

    home = use_home(args.home, args.config)
    workspace = Path(__file__).resolve().parents[1] / "workspace.yaml"
    cmd = [sys.executable, "-m", "dagster", "dev", "-h", args.host, "-p", str(args.port)]
    cmd += ["-w", str(workspace)] if workspace.exists() else ["-m", "vidgen_dagster.definitions"]
    print(f"Dagster UI on http://{args.host}:{args.port} over {home} (Ctrl-C stops it)")
    return subprocess.call(cmd, env=os.environ.copy())


def cmd_demo(args) -> int:
    from .core.demo import render_samples
    from .core.store import resolve_home
    from .runner import curate

    home = resolve_home(args.home)
    folder = Path(home) / "demo_footage"
    files = render_samples(folder)
    print(f"rendered {len(files)} sample videos into {folder}")
    result = curate([str(folder)], home=home, config_path=args.config)
    _summary(home)
    return 0 if result.ok else 1


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="vidgen", description="VidGen-1M video curation on Dagster")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("curate", help="register footage into shards and materialize the graph for them")
    p.add_argument("paths", nargs="+", help="video files or folders (walked)")
    _add_home(p)
    p.add_argument("--shard-size", type=int, help="files per shard (default: ingest.shard_size)")
    _add_config(p)
    p.add_argument("--until", help="stop after this asset (e.g. videos, scenes, clips)")
    p.set_defaults(func=cmd_curate)

    p = sub.add_parser("query", help="run SQL against the DuckDB catalog")
    p.add_argument("sql")
    _add_home(p)
    p.add_argument("--format", choices=["csv", "json"], default="csv")
    p.set_defaults(func=cmd_query)

    p = sub.add_parser("config", help="configuration")
    csub = p.add_subparsers(dest="config_command", required=True)
    s = csub.add_parser("show", help="print the effective configuration")
    _add_config(s)
    s.add_argument("--format", choices=["yaml", "json"], default="yaml")
    s.set_defaults(func=cmd_config_show)

    p = sub.add_parser("ui", help="Dagster webserver and daemon over the same home")
    _add_home(p)
    p.add_argument("--port", type=int, default=3000)
    p.add_argument("--host", default="127.0.0.1")
    _add_config(p)
    p.set_defaults(func=cmd_ui)

    p = sub.add_parser("demo", help="render a small sample set with PyAV and curate it")
    _add_home(p)
    _add_config(p)
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("models", help="model registry: which backend and weights each step uses")
    msub = p.add_subparsers(dest="models_command", required=True)
    s = msub.add_parser("check", help="per step: backend, model id and revision, weights present and where")
    _add_config(s)
    s.add_argument("--format", choices=["text", "json"], default="text")
    s.set_defaults(func=cmd_models)
    s = msub.add_parser("pull", help="fetch the pinned models the configuration uses (needs network)")
    _add_config(s)
    s.add_argument("--dry-run", action="store_true", help="print what would be fetched, fetch nothing")
    s.set_defaults(func=cmd_models)

    p = sub.add_parser("captions", help="caption tools")
    csub2 = p.add_subparsers(dest="captions_command", required=True)
    s = csub2.add_parser("check", help="flag scene transition / frame-level / reduplication in JSONL captions")
    s.add_argument("file", help='JSONL lines {"id": ..., "caption": ...} (optional "finish_reason")')
    s.add_argument("--backend", choices=["rules", "transformers", "openai"], default="rules",
                   help="rules (always available) or the LLM judge configured under judge.*")
    s.add_argument("--format", choices=["json", "csv"], default="csv")
    _add_config(s)
    s.set_defaults(func=cmd_captions_check)

    p = sub.add_parser("export", help="cut kept clips and write WebDataset / CSV / JSONL / Parquet to OUT")
    p.add_argument("out", help="output folder (re-exporting into it is idempotent)")
    _add_home(p)
    p.add_argument("--format", action="append", choices=["webdataset", "csv", "jsonl", "parquet"],
                   help="repeatable; default: export.formats (all four)")
    _add_config(p)
    p.set_defaults(func=cmd_export)

    p = sub.add_parser("rebalance", help="freeze the category-sampling reference over all shards")
    _add_home(p)
    _add_config(p)
    p.set_defaults(func=cmd_rebalance)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except (VidgenError, ValueError) as exc:
        print(f"vidgen {args.command}: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
