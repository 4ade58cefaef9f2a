"""The dataset over all shards: dataset_export (clip files + WebDataset / CSV / JSONL / Parquet) and
dataset_report (Figure 2 distributions, Table 1, the curation funnel). Unpartitioned: they read every
shard's ``curated_clips`` through the store."""


from pathlib import Path

import dagster as dg

from ..core.config import section_hash
from .resources import VidgenResource


def export_settings(config: dict) -> dict:
    e = config["export"]
    return {"formats": list(e["formats"]), "clips_per_tar": int(e["clips_per_tar"]), "crf": int(e["crf"]),
            "preset": e["preset"], "max_short_side": e.get("max_short_side")}


def export_dir(home: str, config: dict) -> Path:
    return Path(config["export"].get("out_dir") or Path(home) / "export").expanduser()


def build_dataset_assets(config: dict) -> list:
    @dg.asset(group_name="dataset", deps=["curated_clips"], code_version=f"1-{section_hash(config, 'export')}",
              op_tags={"dagster-k8s/config": {"container_config": {"resources": {
                  "requests": {"cpu": "4", "memory": "8Gi"}}}}},
              description="Kept clips of every shard cut into files (frame-exact stream copy, else H.264), "
                          "as WebDataset tar shards (.mp4 + .json), an Open-Sora CSV, a VidGen-1M-style JSONL "
                          "and Parquet. Idempotent: unchanged clips are not re-cut, dropped clips are removed.")
    def dataset_export(context: dg.AssetExecutionContext, vidgen: VidgenResource) -> dg.MaterializeResult:
        from ..core.export import export_dataset

        store = vidgen.store
        store.refresh_catalog()
        out = export_dir(vidgen.home, vidgen.config)
        s = export_settings(vidgen.config)
        last = {"t": 0}

        def progress(done: int, total: int, what: str) -> None:
            if done == total or done - last["t"] >= 50:
                last["t"] = done
                context.log.info(f"export: {done}/{total} {what}")

        summary = export_dataset(store, out, s["formats"], clips_per_tar=s["clips_per_tar"], crf=s["crf"],
                                 preset=s["preset"], max_short_side=s["max_short_side"], progress=progress)
        for cid, error in (summary.get("failed") or {}).items():
            context.log.warning(f"export failed for {cid}: {error}")
        files = summary.get("files") or {}
        meta = {k: summary[k] for k in ("clips", "cut", "reused", "removed", "bytes", "output_bytes", "tars")
                if isinstance(summary.get(k), int | float)}
        meta["failed"] = len(summary.get("failed") or {})
        meta["methods"] = dg.MetadataValue.json(summary.get("methods") or {})
        meta["out_dir"] = dg.MetadataValue.path(str(out))
        for fmt, path in files.items():
            if isinstance(path, str):
                meta[f"file_{fmt}"] = dg.MetadataValue.path(path)
        meta["dagster/row_count"] = summary.get("clips", 0)
        return dg.MaterializeResult(metadata=meta)

    @dg.asset(group_name="dataset", deps=["curated_clips"], code_version="1",
              description="The paper's Figure 2 distributions (category, aesthetic, alignment, consistency, OCR, "
                          "motion), Table 1 figures and the curation funnel: PNG plots and markdown in the "
                          "asset metadata, and a standalone HTML report under <home>/report.")
    def dataset_report(context: dg.AssetExecutionContext, vidgen: VidgenResource) -> dg.MaterializeResult:
        import base64

        from ..core.report import build_report

        out = Path(vidgen.home) / "report"
        report = build_report(vidgen.store, out, vidgen.config)
        meta: dict = {"html_report": dg.MetadataValue.path(str(report.html_path))}
        for name, table in report.tables.items():
            meta[name] = dg.MetadataValue.md(table)
        for name, path in report.figures.items():
            data = base64.b64encode(Path(path).read_bytes()).decode()
            meta[f"plot_{name}"] = dg.MetadataValue.md(f"![{name}](data:image/png;base64,{data})")
        for name, why in (getattr(report, "missing", None) or {}).items():
            meta[f"plot_{name}"] = dg.MetadataValue.text(why)
        meta.update({k: v for k, v in report.numbers.items() if isinstance(v, int | float | str)})
        context.log.info(f"report written to {report.html_path}")
        return dg.MaterializeResult(metadata=meta)

    return [dataset_export, dataset_report]
