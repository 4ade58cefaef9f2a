"""The dataset over all shards: dataset_export (clip files + WebDataset / CSV / JSONL / Parquet) and
dataset_report (Figure 2 distributions, Table 1, the curation funnel). Unpartitioned: they read every
shard's ``curated_clips`` through the store."""


import tempfile
from pathlib import Path

import dagster as dg

from ..core.common.config import section_hash
from ..core.common.errors import ConfigError, VidgenError
from ..core.common.progress import report
from .resources import VidgenResource


def export_settings(config: dict) -> dict:
    e = config["export"]
    return {"formats": list(e["formats"]), "clips_per_tar": int(e["clips_per_tar"]), "crf": int(e["crf"]),
            "preset": e["preset"], "max_short_side": e.get("max_short_side")}


def export_dir(home: str, config: dict) -> Path:
    if config["export"].get("out_dir"):
        return Path(config["export"]["out_dir"]).expanduser()
    if "://" in home:  # the cuts are written by PyAV to local files; an object store is not a folder
        raise ConfigError(f"home {home} is on an object store: the export writes clip files to a local folder; "
                          "name one (vidgen export OUT, or export.out_dir)")
    return Path(home) / "export"


class ExportConfig(dg.Config):
    """Run config of ``dataset_export``: where and what (empty: ``export.out_dir`` / ``export.formats``).
    ``vidgen export OUT`` materialises the asset with these, so a CLI export is the asset's record too."""

    out_dir: str = ""
    formats: list[str] = []


PLOT_WIDTH = 800  # px: the metadata dialog is at most 80 % of the window wide; the plots fit without scrolling


def plots_markdown(figures: dict[str, Path], width: int = PLOT_WIDTH) -> str:
    """Every report figure in one markdown value (one click in the UI shows them all), as PNGs scaled to
    ``width`` (markdown images cannot carry a size and the UI's sanitiser drops HTML)."""
    import base64
    import io

    from PIL import Image

    parts = []
    for name, path in figures.items():
        with Image.open(path) as img:
            if img.width > width:
                img = img.resize((width, round(img.height * width / img.width)), Image.LANCZOS)
            buf = io.BytesIO()
            img.save(buf, format="PNG", optimize=True)
        data = base64.b64encode(buf.getvalue()).decode()
        parts.append(f"**{name}**\n\n![{name}](data:image/png;base64,{data})")
    return "\n\n".join(parts)


def build_dataset_assets(config: dict) -> list:
    @dg.asset(group_name="dataset", deps=["curated_clips"], code_version=f"1-{section_hash(config, 'export')}",
              op_tags={"dagster-k8s/config": {"container_config": {"resources": {
                  "requests": {"cpu": "4", "memory": "8Gi"}}}}},
              description="Kept clips of every shard cut into files (frame-exact stream copy, else H.264), "
                          "as WebDataset tar shards (.mp4 + .json), an Open-Sora CSV, a VidGen-1M-style JSONL "
                          "and Parquet, under `export.out_dir` (default `<home>/export`; `vidgen export OUT` "
                          "writes elsewhere through this asset). Idempotent: unchanged clips are not re-cut, "
                          "dropped clips are removed.")
    def dataset_export(context: dg.AssetExecutionContext, vidgen: VidgenResource,
                       config: ExportConfig) -> dg.MaterializeResult:
        from ..core.dataset.export import export_dataset

        store = vidgen.store
        store.refresh_catalog()
        out = Path(config.out_dir).expanduser() if config.out_dir else export_dir(vidgen.home, vidgen.config)
        s = export_settings(vidgen.config)
        if config.formats:
            s["formats"] = list(config.formats)
        last = {"t": 0}

        def progress(done: int, total: int, what: str) -> None:
            report("export", done, total, what)  # the CLI's progress display, when the CLI runs this
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
        meta["failed_clips"] = dg.MetadataValue.json(dict(summary.get("failed") or {}))
        meta["methods"] = dg.MetadataValue.json(summary.get("methods") or {})
        meta["out_dir"] = dg.MetadataValue.path(str(out))
        for fmt, path in files.items():
            if isinstance(path, str):
                meta[f"file_{fmt}"] = dg.MetadataValue.path(path)
        meta["dagster/row_count"] = summary.get("clips", 0)
        return dg.MaterializeResult(metadata=meta)

    @dg.asset(group_name="dataset", deps=["curated_clips"], code_version="1",
              description="The paper's Figure 2 distributions (category, aesthetic, alignment, consistency, OCR, "
                          "motion), Table 1 figures and the curation funnel: every plot in the `plots` "
                          "metadata entry, the tables as markdown, and a standalone HTML report "
                          "(`<home>/report/report.html`).")
    def dataset_report(context: dg.AssetExecutionContext, vidgen: VidgenResource) -> dg.MaterializeResult:
        from ..core.dataset.report import build_report

        store = vidgen.store
        if store.is_local:
            report = build_report(store, Path(vidgen.home) / "report", vidgen.config)
            return _report_result(context, report, str(report.html_path))
        # An object-store home: matplotlib and the HTML writer write local files, so the report is built
        # in a scratch folder and its files are uploaded to <home>/report/ (figures no longer drawn removed).
        with tempfile.TemporaryDirectory(prefix="vidgen-report-") as tmp:
            report = build_report(store, tmp, vidgen.config)
            names = sorted(f.name for f in Path(tmp).iterdir() if f.is_file())
            for name in names:
                store.write_bytes(f"report/{name}", (Path(tmp) / name).read_bytes())
            for name in set(store.list_files("report", ".png")) - set(names):
                store.delete(f"report/{name}")
            return _report_result(context, report, store.uri("report", report.html_path.name))

    def _report_result(context: dg.AssetExecutionContext, report, html: str) -> dg.MaterializeResult:
        meta: dict = {"html_report": dg.MetadataValue.path(html)}
        if report.figures:
            meta["plots"] = dg.MetadataValue.md(plots_markdown(report.figures))
        for name, table in report.tables.items():
            meta[name] = dg.MetadataValue.md(table)
        for name, why in (getattr(report, "missing", None) or {}).items():
            meta[f"plot_{name}"] = dg.MetadataValue.text(why)
        meta.update({k: v for k, v in report.numbers.items() if isinstance(v, int | float | str)})
        context.log.info(f"report written to {html}")
        return dg.MaterializeResult(metadata=meta)

    return [dataset_export, dataset_report]


def materialize_dataset_asset(home: str | None, name: str, config_path: str | None = None,
                              asset_config: dict | None = None) -> dict:
    """Materialise one dataset asset in the home's Dagster instance (``vidgen export`` / ``vidgen report``),
    so the UI shows the same record as after a launch there. Dagster's console log is silenced (the
    caller prints the outcome); an error of ours raised inside the asset is re-raised as itself.
    Returns the materialisation's metadata."""
    from ..definitions import build_definitions
    from ..runner import use_home

    home = use_home(home)
    defs = build_definitions(home, config_path)
    asset = next(a for a in defs.assets if a.key.to_user_string() == name)
    run_config: dict = {"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}}
    if asset_config:
        run_config["ops"] = {name: {"config": asset_config}}
    instance = dg.DagsterInstance.get()
    try:
        res = dg.materialize([asset], instance=instance, resources=defs.resources, run_config=run_config,
                             tags={"vidgen/source": "cli"})
    except dg.DagsterExecutionStepExecutionError as exc:
        if isinstance(exc.user_exception, VidgenError):
            raise exc.user_exception from None
        raise
    finally:
        instance.dispose()
    return dict(res.asset_materializations_for_node(name)[0].metadata)
