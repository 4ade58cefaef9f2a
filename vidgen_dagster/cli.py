"""The ``vidgen`` command: curate, query, config show, models check/pull, captions check, export,
report, status, rebalance, ui, demo."""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

from .core.common.errors import VidgenError


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

    writer = csv.writer(sys.stdout, lineterminator="\n")  # csv's default \r\n is not what a shell pipe expects
    writer.writerow(table.column_names)
    for r in rows:
        writer.writerow([r[c] for c in table.column_names])


def _home(args):
    """The store of an existing home: every command but curate/demo/ui refuses a home that is not there
    (a mistyped --home must not create one, nor run an export or a query against an empty one)."""
    from .core.common.store import Store

    return Store(args.home).require()


def _config(args) -> dict:
    """The configuration a read-only command uses: the home's record when there is a home (an explicit
    --home must exist), with --config as a one-off overlay (never written)."""
    from .core.common.config import home_record, load_config
    from .core.common.store import Store

    store = Store(getattr(args, "home", None))
    if getattr(args, "home", None) and not store.exists():
        store.require()
    return load_config(args.config, home_record(store) if store.exists() else {})


def cmd_curate(args) -> int:
    from .runner import curate

    result = curate(args.paths, home=args.home, config_path=args.config, shard_size=args.shard_size,
                    until=args.until, jobs=args.jobs)
    from .summary import print_summary

    print_summary(args.home, result.failed_checks)
    if not result.runs:
        print("nothing to do: every shard is up to date")
    return 0 if result.ok else 1


def cmd_captions_check(args) -> int:
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
        from .core.fine_curation.judge import LLMJudge
        from .core.fine_curation.stages import build_judge_model, judge_concurrency

        cfg = dict(_config(args)["judge"], backend=args.backend)
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
    """A materialisation of ``dataset_export`` (to OUT when given): the UI shows the CLI's export as the
    asset's latest record, with where it went."""
    from .core.common import progress
    from .defs.dataset import export_dir, materialize_dataset_asset

    store = _home(args)
    out = Path(args.out).expanduser().resolve() if args.out else export_dir(store.home, _config(args))
    with progress.console(1, lines=True):
        meta = materialize_dataset_asset(args.home, "dataset_export", args.config,
                                         {"out_dir": str(out), "formats": list(args.format or [])})
    failed = meta["failed_clips"].value if "failed_clips" in meta else {}
    print(f"exported {meta['clips'].value} clips to {out}: cut {meta['cut'].value}, reused {meta['reused'].value}, "
          f"removed {meta['removed'].value}, failed {len(failed)}")
    for key, value in meta.items():
        if key.startswith("file_"):
            print(f"  {key[5:]}: {value.value}")
    for cid, error in failed.items():
        print(f"  failed: {cid}: {error}")
    return 1 if failed else 0


def cmd_report(args) -> int:
    """Materialise ``dataset_report`` (the same record as a launch in the UI) and say where the HTML is."""
    from .defs.dataset import materialize_dataset_asset

    _home(args)
    meta = materialize_dataset_asset(args.home, "dataset_report", args.config)
    missing = [k[5:] for k, v in meta.items() if k.startswith("plot_") and isinstance(v.value, str)]
    if missing:
        print(f"not computed: {', '.join(missing)} (see the report for why)")
    print(f"report: {meta['html_report'].value}")
    return 0


def cmd_status(args) -> int:
    """Per shard: a readable name, file count, and what is materialised, stale, failed; failed checks."""
    from .status import shard_statuses

    _home(args)
    statuses = shard_statuses(args.home, args.config)
    if not statuses:
        print("no shards registered (vidgen curate PATH registers footage)")
    for st in statuses:
        print(f"{st.shard}  {st.name}  [{st.files} file(s)]")
        total = len(st.materialized) + len(st.missing)
        print(f"  materialized {len(st.materialized)}/{total}"
              + (f"; never: {', '.join(st.missing)}" if st.missing else ""))
        if st.stale:
            print(f"  stale: {', '.join(st.stale)}")
        if st.failed:
            print(f"  FAILED: {', '.join(st.failed)}")
        for c in st.failed_checks:
            print(f"  check failed: {c.line()}")
        if not (st.stale or st.failed or st.failed_checks or st.missing):
            print("  up to date, every check passed")
    return 0


def cmd_models(args) -> int:
    from .models import registry

    config = _config(args)
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
    if failures:
        print(f"{len(failures)} of {len(plan)} fetches failed (see the FAILED lines above)")
    return 1 if failures else 0


def cmd_rebalance(args) -> int:
    from .core.coarse.stages import rebalance

    store = _home(args)
    ref = rebalance(store, _config(args))
    # Dagster learns the new generation (an observation of the `sampling_reference` source asset): every
    # shard's coarse_selection is then stale, in the UI and for `vidgen curate` alike.
    import dagster as dg

    from .defs.coarse import observe_sampling_reference
    from .defs.resources import VidgenResource
    from .runner import use_home

    use_home(store.home)
    instance = dg.DagsterInstance.get()
    try:
        observe_sampling_reference(instance, {"vidgen": VidgenResource(home=store.home)})
    finally:
        instance.dispose()
    print(f"sampling reference generation {ref.generation} frozen over all shards: "
          + ", ".join(f"{c}={f:.3f}" for c, f in sorted(ref.freq.items(), key=lambda x: -x[1])))
    print("every shard's coarse_selection is now stale: run `vidgen curate` (or backfill in the UI) to apply it")
    return 0


def cmd_query(args) -> int:
    import duckdb

    store = _home(args)
    try:
        table = store.user_query(args.sql)
    except duckdb.Error as exc:
        print(f"vidgen query: {exc}", file=sys.stderr)
        return 2
    _print_table(table, args.format)
    return 0


def cmd_config_show(args) -> int:
    config = _config(args)
    if args.format == "json":
        print(json.dumps(config, indent=2))
    else:
        import yaml

        print(yaml.safe_dump(config, sort_keys=False), end="")
    return 0


def cmd_ui(args) -> int:
    from .core.common.store import Store
    from .runner import apply_config, use_home

    apply_config(Store(args.home), args.config)  # an explicit --config becomes the home's record
    home = use_home(args.home)
    workspace = Path(__file__).resolve().parents[1] / "workspace.yaml"
    cmd = [sys.executable, "-m", "dagster", "dev", "-h", args.host, "-p", str(args.port)]
    cmd += ["-w", str(workspace)] if workspace.exists() else ["-m", "vidgen_dagster.definitions"]
    print(f"Dagster UI on http://{args.host}:{args.port} over {home} (Ctrl-C stops it)", flush=True)
    return run_process_group(cmd)


def run_process_group(cmd: list[str]) -> int:
    """Run ``cmd`` in its own process group and stop the whole group (webserver, daemon, code servers)
    when this process gets SIGINT or SIGTERM: ``dagster dev`` alone leaves its children behind on a
    SIGTERM, and a terminal's Ctrl-C would reach them twice."""
    import signal
    import time

    proc = subprocess.Popen(cmd, env=os.environ.copy(), start_new_session=True)
    stopping = {"sig": 0}

    def forward(signum, _frame) -> None:
        stopping["sig"] = signum
        try:
            os.killpg(proc.pid, signal.SIGINT)  # dagster dev shuts its children down on SIGINT
        except ProcessLookupError:
            pass

    old = {s: signal.signal(s, forward) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        while proc.poll() is None:
            time.sleep(0.2)
            if stopping["sig"]:
                break
        if stopping["sig"]:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                pass
        # whatever is left of the group (a child that ignored SIGINT) is killed
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        proc.wait()
    finally:
        for s, h in old.items():
            signal.signal(s, h)
    return 128 + stopping["sig"] if stopping["sig"] else proc.returncode


def cmd_demo(args) -> int:
    from .core.common.errors import ConfigError
    from .core.common.store import resolve_home
    from .core.ingest.demo_footage import render_samples
    from .runner import curate

    home = resolve_home(args.home)
    if "://" in home:  # the sample footage is rendered into the home and clips are cut from it: local only
        raise ConfigError(f"vidgen demo renders its footage into the home: give a local --home, not {home}")
    folder = Path(home) / "demo_footage"
    files = render_samples(folder)
    print(f"rendered {len(files)} sample videos into {folder}")
    result = curate([str(folder)], home=home, config_path=args.config)
    from .summary import print_summary

    print_summary(home, result.failed_checks)
    if not result.ok:
        return 1
    return _demo_ending(home)


def _demo_ending(home: str) -> int:
    """The demo's dataset and report, which stages ran with which models, and where to look."""
    from .core.common.store import Store
    from .defs.dataset import materialize_dataset_asset
    from .status import stage_report

    print("stages and models:")
    print("\n".join(stage_report(Store(home))))
    export = materialize_dataset_asset(home, "dataset_export")
    report = materialize_dataset_asset(home, "dataset_report")
    failed = export["failed_clips"].value if "failed_clips" in export else {}
    q = shlex.quote(str(home))
    print(f"dataset_export: {export['clips'].value} clip(s) in {export['out_dir'].value}"
          + (f" ({len(failed)} failed to cut)" if failed else ""))
    print(f"dataset_report: {report['html_report'].value}")
    print("where to look:")
    print(f"  the dataset     {export['out_dir'].value}  (README.md there: formats and columns)")
    print(f"  the report      {report['html_report'].value}")
    print(f"  every clip      vidgen query --home {q} \"SELECT clip_id, state, stage, reasons FROM curated_clips\"")
    print(f"  shard status    vidgen status --home {q}")
    print(f"  the UI          vidgen ui --home {q}")
    return 1 if failed else 0


def build_parser() -> argparse.ArgumentParser:
    from . import __version__

    parser = argparse.ArgumentParser(prog="vidgen", description="VidGen-1M video curation on Dagster")
    parser.add_argument("--version", action="version", version=f"vidgen {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("curate", help="register footage into shards and materialize the graph for them")
    p.add_argument("paths", nargs="+", help="video files or folders (walked)")
    _add_home(p)
    p.add_argument("--shard-size", type=int, help="files per shard (default: ingest.shard_size)")
    _add_config(p)
    p.add_argument("--until", help="stop after this asset (e.g. videos, scenes, clips)")
    p.add_argument("--jobs", "-j", type=int,
                   help="shards run at once, each a run of the curate_shard job (default: the number of cores)")
    p.set_defaults(func=cmd_curate)

    p = sub.add_parser("query", help="run SQL against the DuckDB catalog")
    p.add_argument("sql")
    _add_home(p)
    p.add_argument("--format", choices=["csv", "json"], default="csv")
    p.set_defaults(func=cmd_query)

    p = sub.add_parser("config", help="configuration")
    csub = p.add_subparsers(dest="config_command", required=True)
    s = csub.add_parser("show", help="print the effective configuration (the home's record over the defaults)")
    _add_home(s)
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
    _add_home(s)
    _add_config(s)
    s.add_argument("--format", choices=["text", "json"], default="text")
    s.set_defaults(func=cmd_models)
    s = msub.add_parser("pull", help="fetch the pinned models the configuration uses (needs network)")
    _add_home(s)
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
    _add_home(s)
    _add_config(s)
    s.set_defaults(func=cmd_captions_check)

    p = sub.add_parser("export", help="materialise dataset_export: kept clips as WebDataset / CSV / JSONL / "
                                      "Parquet in OUT")
    p.add_argument("out", nargs="?", help="output folder (default: export.out_dir, else <home>/export); "
                                          "re-exporting into it is idempotent")
    _add_home(p)
    p.add_argument("--format", action="append", choices=["webdataset", "csv", "jsonl", "parquet"],
                   help="repeatable; default: export.formats (all four)")
    _add_config(p)
    p.set_defaults(func=cmd_export)

    p = sub.add_parser("report", help="materialise dataset_report and print the HTML report's path")
    _add_home(p)
    _add_config(p)
    p.set_defaults(func=cmd_report)

    p = sub.add_parser("status", help="per shard: files, what is materialised, stale, failed; failed checks")
    _add_home(p)
    _add_config(p)
    p.set_defaults(func=cmd_status)

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
