"""The dataset report: the paper's Figure 2 distributions, Table 1 figures and the curation funnel.

``build_report(store, out_dir)`` reads the catalog (every shard) and writes, under ``out_dir``:

* ``fig_<name>.png`` -- one plot per distribution (see ``FIGURES``) plus ``fig_funnel.png``;
* ``report.md`` -- every table as markdown;
* ``report.html`` -- a standalone page (figures embedded as base64 data URIs, tables as HTML).

File names are fixed, so a re-run overwrites the previous report; a figure that cannot be drawn this
time (its metric was not computed, e.g. the CLIP model was unavailable) is removed rather than left
stale, and the report says "not computed (...)" with the reason taken from the score table.

Plots use matplotlib's object-oriented API on the Agg canvas (no pyplot, no global backend switch),
so building a report inside a Dagster worker or a notebook does not touch their matplotlib state.
"""

from __future__ import annotations

import base64
import html
import io
import math
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from ..coarse.scoring.registry import STAGES
from ..common.config import load_config
from ..common.store import Store

# Figure 2 distributions, in display order: name -> (title, x-axis label).
# name -> (table, column, thresholds [(config key, kind)], skewed: log x when values span decades): every
# registered scoring stage's figures (with the filters on the same column), then caption alignment.
_METRICS: dict[str, tuple[str, str, list[tuple[str, str]], bool]] = {
    **{f.name: (s.name, f.column, [(x.key, x.kind) for x in s.filters if x.column == f.column], f.skewed)
       for s in STAGES for f in s.figures},
    "alignment": ("caption_checks", "alignment", [("alignment_min", "min")], False),
}
FIGURES: dict[str, tuple[str, str]] = {
    "category": ("Clip categories (zero-shot CLIP)", "clips"),
    **{f.name: (f.title, f.xlabel) for s in STAGES for f in s.figures},
    "alignment": ("Caption-video alignment", "CLIP cosine similarity (caption text vs clip frames)"),
    "duration": ("Clip duration", "seconds"),
    "caption_words": ("Caption length", "words per caption"),
}
FUNNEL = "funnel"
FIGURE_FILES = [f"fig_{n}.png" for n in (*FIGURES, FUNNEL)]
STAGES = ("coarse", "captions", "alignment", "fine")



@dataclass
class Report:
    figures: dict[str, Path] = field(default_factory=dict)   # name -> PNG (only the ones drawn)
    tables: dict[str, str] = field(default_factory=dict)     # name -> markdown
    numbers: dict[str, Any] = field(default_factory=dict)    # plain str/int/float values (no None)
    html_path: Path | None = None
    markdown_path: Path | None = None
    missing: dict[str, str] = field(default_factory=dict)    # figure name -> "not computed (why)"


@dataclass
class _Table:
    headers: list[str]
    rows: list[list[Any]]

    def markdown(self) -> str:
        def cell(v: Any) -> str:
            return _fmt(v).replace("|", "\\|").replace("\n", " ")

        lines = ["| " + " | ".join(cell(h) for h in self.headers) + " |",
                 "|" + "|".join("---" for _ in self.headers) + "|"]
        lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in self.rows]
        return "\n".join(lines)

    def html(self) -> str:
        head = "".join(f"<th>{html.escape(_fmt(h))}</th>" for h in self.headers)
        body = "".join(
            "<tr>" + "".join(f'<td class="{"num" if _is_num(v) else "txt"}">{html.escape(_fmt(v))}</td>'
                             for v in row) + "</tr>"
            for row in self.rows)
        return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _is_num(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def _fmt(v: Any) -> str:
    if v is None:
        return "-"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, int):
        return f"{v:,}"
    if isinstance(v, float):
        if math.isnan(v):
            return "-"
        return f"{v:,.2f}" if abs(v) >= 100 else f"{v:.4g}"
    return str(v)


def _family(reason: str) -> str:
    """``"motion_low: 0.001 < 0.005"`` -> ``motion_low``; ``"scene_transition (rules: ...)"`` -> ``scene_transition``."""
    return reason.split(":")[0].split(" (")[0].strip() or "unspecified"


def _key(text: str) -> str:
    """A metadata-friendly key part: ``"caption failed"`` -> ``caption_failed``."""
    return re.sub(r"\W+", "_", text).strip("_").lower() or "unspecified"


# ---------------------------------------------------------------------------------------------- data


_KEPT = "LEFT JOIN (SELECT DISTINCT clip_id, true AS kept FROM curated_clips WHERE state = 'kept') k USING (clip_id)"
_FAMILY_SQL = "trim(split_part(split_part({x}, ':', 1), ' (', 1))"  # the SQL twin of _family()


class _Data:
    """What the report needs, aggregated by DuckDB over the catalog: per-clip values come back only as
    numeric columns, so a million-clip store costs a few arrays, not a million Python dicts."""

    def __init__(self, store: Store):
        self.store = store
        self.video_states = Counter({r["state"]: r["n"] for r in self.q(
            "SELECT state, count(*) AS n FROM video_states GROUP BY state")})
        self.videos = sum(self.video_states.values())
        self.video_failures = Counter({(_family(r["reason"] or "")): r["n"] for r in self.q(
            f"SELECT {_FAMILY_SQL.format(x='reason')} AS reason, count(*) AS n FROM video_states "
            "WHERE state = 'failed' GROUP BY ALL")})
        self.scenes = self.q("SELECT count(*) AS n FROM scenes")[0]["n"]
        self.dropped = Counter({(r["reason"] or "unspecified"): r["n"] for r in self.q(
            f"SELECT {_FAMILY_SQL.format(x='reason')} AS reason, count(*) AS n FROM dropped_scenes GROUP BY ALL")})
        clips = "clips c LEFT JOIN curated_clips cc USING (clip_id)"
        self.clips = self.q("SELECT count(*) AS n FROM clips")[0]["n"]
        self.outcome = Counter({(r["state"], r["stage"]): r["n"] for r in self.q(
            f"SELECT cc.state, cc.stage, count(*) AS n FROM {clips} GROUP BY ALL")})
        self.reasons = Counter({(r["stage"], r["reason"] or "unspecified"): r["n"] for r in self.q(f"""
            SELECT stage, {_FAMILY_SQL.format(x='reason')} AS reason, count(*) AS n
            FROM (SELECT cc.stage, unnest(cc.reasons) AS reason FROM {clips} WHERE cc.state <> 'kept')
            GROUP BY ALL""")})
        self.kept_videos = self.q(
            f"SELECT count(DISTINCT c.video_id) AS n FROM {clips} WHERE cc.state = 'kept'")[0]["n"]
        self.resolutions = self.q(f"""
            SELECT CASE WHEN ((coalesce(v.rotation, 0) % 180) + 180) % 180 = 90
                        THEN v.height || 'x' || v.width ELSE v.width || 'x' || v.height END AS res,
                   count(*) AS n, count(*) FILTER (WHERE cc.state = 'kept') AS kept
            FROM {clips} LEFT JOIN videos v ON v.video_id = c.video_id AND v.shard = c.shard
            WHERE v.width > 0 AND v.height > 0 GROUP BY ALL ORDER BY n DESC, res""")
        self.categories = Counter({(r["category"], r["kept"]): r["n"] for r in self.q(f"""
            SELECT t.category, coalesce(k.kept, false) AS kept, count(*) AS n FROM visual_scores t {_KEPT}
            WHERE t.category IS NOT NULL GROUP BY ALL ORDER BY n DESC, t.category, kept""")})

    def q(self, sql: str) -> list[dict]:
        return self.store.query(sql).to_pylist()

    def values(self, table: str, expr: str, where: str = "true") -> tuple[np.ndarray, np.ndarray]:
        """(every finite value, the kept clips' values) of ``expr`` over ``table`` (aliased ``t``)."""
        tab = self.store.query(f"""
            SELECT CAST({expr} AS DOUBLE) AS value, coalesce(k.kept, false) AS kept FROM {table} t {_KEPT}
            WHERE ({where}) AND {expr} IS NOT NULL AND isfinite(CAST({expr} AS DOUBLE))""")
        vals = tab["value"].to_numpy(zero_copy_only=False).astype(float)
        kept = tab["kept"].to_numpy(zero_copy_only=False).astype(bool)
        return vals, vals[kept]

    def states(self, table: str) -> list[dict]:
        return self.q(f"SELECT status, error, count(*) AS n FROM {table} GROUP BY ALL")


def _not_computed(rows: list[dict], what: str, upstream: list[dict] | None = None) -> str:
    """Why a metric has no values, from the score table's (status, error, n) counts. ``upstream``: the
    same for the stage this one depends on (caption checks need captions), consulted when every row
    here was skipped for want of its input."""
    if not rows:
        return f"not computed (no {what} rows in the store yet)"
    statuses = Counter()
    for r in rows:
        statuses[r["status"]] += r["n"]
    unavailable = [r for r in rows if r["status"] in ("unavailable", "partial")]
    errors = Counter()
    for r in unavailable or rows:
        if r.get("error"):
            errors[r["error"]] += r["n"]
    detail = f": {_clip_text(errors.most_common(1)[0][0])}" if errors else ""
    if unavailable:
        return f"not computed (model unavailable{detail})"
    if set(statuses) <= {"skipped"}:
        if upstream is not None and any(r["status"] in ("unavailable", "partial") for r in upstream):
            why = _not_computed(upstream, "").removeprefix("not computed (model unavailable").lstrip(": ")
            return f"not computed (model unavailable: no captions to check{': ' if why != ')' else ''}{why}"
        return "not computed (no clip reached this stage)"
    top = ", ".join(f"{s or 'no status'}: {n}" for s, n in statuses.most_common())
    return f"not computed ({top}{detail})"


def _clip_text(text: str, limit: int = 240) -> str:
    text = " ".join(str(text).replace("model_unavailable: ", "").split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


# ---------------------------------------------------------------------------------------------- plots


def _new_figure(width: float = 8.0, height: float = 4.6):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=110, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _save(fig, path: Path) -> Path:
    tmp = path.with_name(f".{path.name}.tmp")
    fig.savefig(tmp, format="png", metadata={"Software": None})
    tmp.replace(path)
    return path


def _stats_text(values: np.ndarray) -> str:
    return (f"n = {values.size:,}\nmean = {np.mean(values):.4g}\nmedian = {np.median(values):.4g}\n"
            f"p5-p95 = {np.percentile(values, 5):.3g} - {np.percentile(values, 95):.3g}")


ALL_FILL, ALL_EDGE, KEPT_COLOR = "#c6dbef", "#08306b", "#f58518"  # all clips (fill, outline), kept clips


def _histogram(path: Path, title: str, xlabel: str, values: Sequence[float], kept: Sequence[float],
               lines: list[tuple[str, float]], skewed: bool = False, integer: bool = False) -> Path:
    """Histogram of every scored clip with the kept clips overlaid, threshold lines dashed red.
    ``skewed``: a log x axis when the positive values span more than two decades (zeros counted apart)."""
    from matplotlib.ticker import MaxNLocator

    vals = np.asarray(values, dtype=float)
    kept_v = np.asarray(kept, dtype=float)
    fig = _new_figure(9.5, 4.6)
    ax = fig.add_subplot()
    pos = vals[vals > 0]
    log_x = bool(skewed and pos.size >= 2 and pos.max() / pos.min() > 100)
    zeros = int((vals <= 0).sum()) if log_x else 0
    marks = [v for _, v in lines if v is not None and (v > 0 or not log_x)]
    if log_x:
        lo, hi = min([pos.min(), *marks]), max([pos.max(), *marks])
        bins = np.geomspace(lo / 1.05, hi * 1.05, 41)
        ax.set_xscale("log")
    else:
        lo, hi = float(min([vals.min(), *marks])), float(max([vals.max(), *marks]))
        if integer:
            step = max(1, math.ceil((hi - lo + 1) / 40))
            bins = np.arange(math.floor(lo), math.ceil(hi) + step + 1, step) - 0.5
        else:
            if hi <= lo:
                lo, hi = lo - 0.5, hi + 0.5
            n = int(np.clip(np.sqrt(vals.size) * 2, 10, 40))
            bins = np.linspace(lo, hi, n + 1)
    plot_all = pos if log_x else vals
    # All clips as a light filled area with a dark outline drawn last, kept clips as narrower bars inside
    # it: where every clip of a bin was kept the outline still shows the total (opaque overlaid bars
    # would hide it).
    label_all = f"clips > 0 (n={pos.size:,})" if zeros else f"all clips (n={vals.size:,})"
    ax.hist(plot_all, bins=bins, histtype="stepfilled", facecolor=ALL_FILL, edgecolor=ALL_EDGE,
            linewidth=1.6, label=label_all)
    if kept_v.size:
        ax.hist(kept_v[kept_v > 0] if log_x else kept_v, bins=bins, rwidth=0.6, color=KEPT_COLOR,
                label=f"kept clips (n={kept_v.size:,})")
    ax.hist(plot_all, bins=bins, histtype="step", color=ALL_EDGE, linewidth=1.6)
    for label, value in lines:
        if value is None or (log_x and value <= 0):
            continue
        ax.axvline(value, color="#d62728", linestyle="--", linewidth=1.6, label=f"{label} = {value:g}")
    if zeros:  # a separate hatched bar left of the log axis' range for the exact zeros
        z0, z1 = bins[0] / 4, bins[0] / 2
        ax.bar(z0, zeros, width=z1 - z0, align="edge", color="#bab0ac", hatch="//", edgecolor="white",
               label=f"exactly 0 (n={zeros:,})")
        ax.set_xlim(z0 / 1.5, None)
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_title(f"{title} ({vals.size:,} clips)")
    ax.set_xlabel(xlabel + (" (log scale)" if log_x else ""))
    ax.set_ylabel("clips (count)")
    ax.grid(axis="y", alpha=0.3)
    legend = fig.legend(loc="outside right upper", fontsize=8, title=_stats_text(vals), title_fontsize=8,
                        alignment="left")
    legend.get_title().set_family("monospace")
    return _save(fig, path)


def _bar_labels(ax, bars, total: int) -> None:
    for b in bars:
        w = b.get_width()
        share = f" ({w / total:.0%})" if total else ""
        ax.text(w, b.get_y() + b.get_height() / 2, f" {int(w):,}{share}", va="center", fontsize=8)


def _category_figure(path: Path, tagged: Counter, kept: Counter) -> Path:
    from matplotlib.ticker import MaxNLocator

    names = [c for c, _ in sorted(tagged.items(), key=lambda kv: (-kv[1], kv[0]))]
    names += sorted(set(kept) - set(names))
    fig = _new_figure(11.0, max(3.2, 0.32 * len(names) + 1.6))
    panels = [(tagged, f"all tagged clips (n={sum(tagged.values()):,})", "#4c78a8"),
              (kept, f"kept clips (n={sum(kept.values()):,})", "#f58518")]
    axes = fig.subplots(1, 2, sharey=True)
    y = np.arange(len(names))
    for ax, (counts, label, color) in zip(axes, panels, strict=True):
        total = sum(counts.values())
        bars = ax.barh(y, [counts.get(n, 0) for n in names], color=color)
        if total:
            _bar_labels(ax, bars, total)
            ax.set_xlim(0, max(counts.values()) * 1.3)
        else:
            ax.text(0.5, 0.5, "no kept clips yet", transform=ax.transAxes, ha="center", va="center",
                    color="#666")
        ax.set_title(label)
        ax.set_xlabel("clips (count)")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(axis="x", alpha=0.3)
    axes[0].set_yticks(y, names)
    axes[0].invert_yaxis()
    fig.suptitle("Clip categories (zero-shot CLIP tagging)")
    return _save(fig, path)


def _funnel_figure(path: Path, steps: list[tuple[str, int]], reasons: list[tuple[str, str, int]]) -> Path:
    from matplotlib.ticker import MaxNLocator

    fig = _new_figure(12.0, max(4.2, 0.3 * max(len(steps), len(reasons)) + 1.8))
    left, right = fig.subplots(1, 2, width_ratios=[1, 1.15])
    y = np.arange(len(steps))
    bars = left.barh(y, [n for _, n in steps], color=["#54a24b" if s == "clips kept" else "#4c78a8" for s, _ in steps])
    for b, (_, n) in zip(bars, steps, strict=True):
        left.text(b.get_width(), b.get_y() + b.get_height() / 2, f" {n:,}", va="center", fontsize=8)
    left.set_yticks(y, [s for s, _ in steps])
    left.invert_yaxis()
    left.set_xlim(0, max([n for _, n in steps] + [1]) * 1.2)
    left.set_xlabel("count")
    left.set_title("Curation funnel")
    left.grid(axis="x", alpha=0.3)
    left.xaxis.set_major_locator(MaxNLocator(integer=True))
    colors = {"coarse": "#e45756", "captions": "#b279a2", "alignment": "#ff9da6", "fine": "#9d755d",
              "scenes": "#bab0ac", "videos": "#72b7b2"}
    if reasons:
        y = np.arange(len(reasons))
        bars = right.barh(y, [n for _, _, n in reasons], color=[colors.get(s, "#888") for s, _, _ in reasons])
        for b, (_, _, n) in zip(bars, reasons, strict=True):
            right.text(b.get_width(), b.get_y() + b.get_height() / 2, f" {n:,}", va="center", fontsize=8)
        right.set_yticks(y, [f"{s}: {r}" for s, r, _ in reasons])
        right.invert_yaxis()
        right.set_xlim(0, max(n for _, _, n in reasons) * 1.2)
    else:
        right.text(0.5, 0.5, "nothing rejected", transform=right.transAxes, ha="center", va="center")
        right.set_yticks([])
    right.set_xlabel("count (a clip can have several reasons)")
    right.set_title("Losses by stage and reason")
    right.grid(axis="x", alpha=0.3)
    right.xaxis.set_major_locator(MaxNLocator(integer=True))
    return _save(fig, path)


# ---------------------------------------------------------------------------------------------- report


def _mean(xs: np.ndarray) -> float | None:
    return float(np.mean(xs)) if xs.size else None


def build_report(store: Store, out_dir: str | Path, config: dict | None = None) -> Report:
    """Write the figures, ``report.md`` and ``report.html`` under ``out_dir``; return what was made.

    ``config`` supplies the thresholds drawn on the plots (default: ``load_config()``). The store's
    catalog is refreshed first so every shard written so far is included.
    """
    config = config if config is not None else load_config()
    thresholds = config.get("thresholds") or {}
    clip_cfg = config.get("clips") or {}
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    store.refresh_catalog()
    data = _Data(store)
    report = Report()
    figures: dict[str, Path] = {}

    # -- the per-clip distributions (Figure 2) ---------------------------------------------------------
    stats_rows: list[list[Any]] = []

    def add_metric(name: str, values: np.ndarray, kept: np.ndarray, lines: list[tuple[str, float | None, str]],
                   why_missing: str, skewed: bool = False, integer: bool = False) -> None:
        """``lines``: (label, threshold or None, "min"|"max")."""
        title, xlabel = FIGURES[name]
        shown = [(k, float(v), kind) for k, v, kind in lines if v is not None]
        if not values.size:
            report.missing[name] = why_missing
            stats_rows.append([title, 0, None, None, None, None,
                               "; ".join(f"{k} {v:g}" for k, v, _ in shown) or None, why_missing])
            return
        figures[name] = _histogram(out / f"fig_{name}.png", title, xlabel, values, kept,
                                   [(k, v) for k, v, _ in shown], skewed=skewed, integer=integer)
        arr = np.asarray(values, dtype=float)
        crossed = []
        for key, v, kind in shown:
            n = int((arr > v).sum() if kind == "max" else (arr < v).sum())
            crossed.append(f"{key} {v:g} ({n:,} {'above' if kind == 'max' else 'below'})")
        stats_rows.append([title, int(arr.size), float(arr.mean()), float(np.median(arr)),
                           float(np.percentile(arr, 5)), float(np.percentile(arr, 95)),
                           "; ".join(crossed) or None, "ok"])

    # category: all tagged clips vs kept clips
    tagged, kept_cat = Counter(), Counter()
    for (cat, is_kept), n in data.categories.items():
        tagged[cat] += n
        if is_kept:
            kept_cat[cat] += n
    if tagged:
        figures["category"] = _category_figure(out / "fig_category.png", tagged, kept_cat)
        top = ", ".join(f"{c} {n / sum(tagged.values()):.0%}" for c, n in tagged.most_common(3))
        stats_rows.append([FIGURES["category"][0], sum(tagged.values()), None, None, None, None, None,
                           f"ok: {len(tagged)} categories; top {top}"])
    else:
        report.missing["category"] = _not_computed(data.states("visual_scores"), "visual_scores")
        stats_rows.append([FIGURES["category"][0], 0, None, None, None, None, None, report.missing["category"]])

    caption_states = data.states("captions")
    for name, (table, column, keys, skewed) in _METRICS.items():
        vals, kept = data.values(table, f"t.{column}")
        why = _not_computed(data.states(table), table, upstream=caption_states if table == "caption_checks" else None)
        add_metric(name, vals, kept, [(k, thresholds.get(k), kind) for k, kind in keys], why, skewed=skewed)

    durations, kept_dur = data.values("clips", "t.duration_s")
    add_metric("duration", durations, kept_dur,
               [("clips.min_seconds", clip_cfg.get("min_seconds"), "min"),
                ("clips.max_seconds", clip_cfg.get("max_seconds"), "max")],
               "not computed (no clips in the store yet)")
    # words as Python's str.split() counts them (runs of whitespace separate words)
    words, kept_words = data.values("captions", "len(regexp_split_to_array(trim(t.caption), '\\s+'))",
                                    "t.status = 'ok' AND trim(t.caption) <> ''")
    add_metric("caption_words", words, kept_words, [], _not_computed(caption_states, "captions"), integer=True)

    # -- Table 1 -----------------------------------------------------------------------------------------
    kept_n = sum(n for (s, _), n in data.outcome.items() if s == "kept")
    res_all = Counter({r["res"]: r["n"] for r in data.resolutions})
    res_kept = Counter({r["res"]: r["kept"] for r in data.resolutions if r["kept"]})

    def top_res(counts: Counter, k: int = 3) -> str | None:
        total = sum(counts.values())
        return ", ".join(f"{r} ({n / total:.0%})" for r, n in counts.most_common(k)) if total else None

    table1 = _Table(["", "all clips", "kept clips"], [
        ["videos (kept: with a kept clip)", data.videos, data.kept_videos],
        ["videos processed", data.video_states.get("processed", 0), None],
        ["clips", data.clips, kept_n],
        ["total duration (h)", float(durations.sum()) / 3600, float(kept_dur.sum()) / 3600],
        ["mean clip duration (s)", _mean(durations), _mean(kept_dur)],
        ["mean caption words", _mean(words), _mean(kept_words)],
        ["captioned clips", int(words.size), int(kept_words.size)],
        ["most common resolutions", top_res(res_all), top_res(res_kept)],
    ])
    res_table = _Table(["resolution (w x h, as displayed)", "all clips", "kept clips"],
                       [[r, n, res_kept.get(r, 0)] for r, n in res_all.most_common(10)])
    if len(res_all) > 10:
        rest = [r for r, _ in res_all.most_common()[10:]]
        res_table.rows.append([f"{len(rest)} other(s)", sum(res_all[r] for r in rest), sum(res_kept[r] for r in rest)])

    # -- the funnel ----------------------------------------------------------------------------------------
    vs, outcome = data.video_states, data.outcome
    funnel = _Table(["stage", "outcome", "count"], [["videos", "in", data.videos]])
    funnel.rows += [["videos", s, vs.get(s, 0)] for s in ("failed", "duplicate", "pending", "processed")]
    funnel.rows += [["videos", f"other state: {s}", n] for s, n in sorted(vs.items(), key=str)
                    if s not in ("failed", "duplicate", "pending", "processed")]
    dropped_total = sum(data.dropped.values())
    funnel.rows += [["scenes", "detected", data.scenes]]
    funnel.rows += [["scenes", f"dropped: {r}", n] for r, n in sorted(data.dropped.items())]
    funnel.rows += [["scenes", "kept (cut into clips)", data.scenes - dropped_total],
                    ["clips", "cut", data.clips]]
    pending = sum(n for (s, _), n in outcome.items() if s is None)
    reason_rows: list[list[Any]] = [["videos", r, n] for r, n in
                                    sorted(data.video_failures.items(), key=lambda kv: (-kv[1], kv[0]))]
    reason_counts: list[tuple[str, str, int]] = [("videos", s, vs[s]) for s in ("failed", "duplicate") if vs.get(s)]
    reason_counts += [("scenes", f"dropped {r}", n) for r, n in sorted(data.dropped.items(), key=lambda kv: -kv[1])]
    remaining = data.clips - pending
    steps = [("videos in", data.videos), ("videos processed", vs.get("processed", 0)),
             ("scenes detected", data.scenes), ("scenes kept", data.scenes - dropped_total),
             ("clips cut", data.clips)]
    if pending:
        funnel.rows.append(["clips", "pending (no final decision yet)", pending])
        steps.append(("clips decided", remaining))
    for stage in STAGES:
        rejected, failed = outcome.get(("rejected", stage), 0), outcome.get(("failed", stage), 0)
        funnel.rows += [["clips", f"rejected at {stage}", rejected], ["clips", f"failed at {stage}", failed]]
        remaining -= rejected + failed
        if stage != STAGES[-1]:
            steps.append((f"clips after {stage}", remaining))
        fam = {r: n for (st, r), n in data.reasons.items() if st == stage}
        for r, n in sorted(fam.items(), key=lambda kv: (-kv[1], kv[0])):
            reason_rows.append([stage, r, n])
            reason_counts.append((stage, r, n))
    other = sum(n for (s, st), n in outcome.items() if s not in (None, "kept") and st not in STAGES)
    if other:
        funnel.rows.append(["clips", "rejected/failed at another stage", other])
    funnel.rows.append(["clips", "kept", kept_n])
    steps.append(("clips kept", kept_n))
    reasons_table = _Table(["stage", "reason", "count (videos / clips)"], reason_rows or [["-", "nothing rejected", 0]])
    dropped_table = _Table(["reason", "scenes"], [[r, n] for r, n in sorted(data.dropped.items())]
                           or [["none dropped", 0]])
    if data.videos:
        figures[FUNNEL] = _funnel_figure(out / f"fig_{FUNNEL}.png", steps, reason_counts)
    else:
        report.missing[FUNNEL] = "not computed (no videos in the store yet)"

    stats = _Table(["metric", "clips", "mean", "median", "p5", "p95", "threshold (clips beyond)", "status"],
                   stats_rows)
    tables = {"table1": table1, "funnel": funnel, "rejection_reasons": reasons_table,
              "dropped_scenes": dropped_table, "resolutions": res_table, "metrics": stats}
    report.tables = {k: t.markdown() for k, t in tables.items()}

    # -- numbers for asset metadata -------------------------------------------------------------------
    nums: dict[str, Any] = {
        "videos": data.videos, **{f"videos_{s}": vs.get(s, 0) for s in ("processed", "failed", "duplicate", "pending")},
        "scenes": data.scenes, "scenes_dropped": dropped_total,
        **{f"scenes_dropped_{_key(r)}": n for r, n in sorted(data.dropped.items())},
        "clips": data.clips, "clips_kept": kept_n, "clips_pending": pending,
        **{f"clips_{s}_{_key(str(st))}": n for (s, st), n in sorted(outcome.items(), key=str) if s not in (None, "kept")},
        **{f"reason_{stage}_{_key(r)}": n for stage, r, n in reason_rows},
        "videos_with_kept_clips": data.kept_videos,
        "total_clip_hours": round(float(durations.sum()) / 3600, 4),
        "kept_clip_hours": round(float(kept_dur.sum()) / 3600, 4),
        "mean_clip_seconds": _mean(durations), "mean_kept_clip_seconds": _mean(kept_dur),
        "mean_caption_words": _mean(words), "mean_kept_caption_words": _mean(kept_words),
        "captioned_clips": int(words.size),
        "top_resolution": res_all.most_common(1)[0][0] if res_all else None,
        "top_resolution_kept": res_kept.most_common(1)[0][0] if res_kept else None,
        "figures": len(figures),
        "not_computed": ", ".join(sorted(report.missing)) or "none",
    }
    report.numbers = {k: (round(v, 4) if isinstance(v, float) else v) for k, v in nums.items() if v is not None}

    # -- files ---------------------------------------------------------------------------------------------
    for stale in FIGURE_FILES:
        if stale.removesuffix(".png").removeprefix("fig_") not in figures:
            (out / stale).unlink(missing_ok=True)
    report.figures = {n: figures[n] for n in (*FIGURES, FUNNEL) if n in figures}
    generated = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    md = _markdown(store.home, generated, tables, report)
    report.markdown_path = out / "report.md"
    _write_text(report.markdown_path, md)
    report.html_path = out / "report.html"
    _write_text(report.html_path, _html(store.home, generated, tables, report, thresholds, clip_cfg))
    return report


def _write_text(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)


_SECTIONS = [
    ("table1", "Table 1: dataset statistics"),
    ("funnel", "Curation funnel"),
    ("rejection_reasons", "Rejections by stage and reason"),
    ("dropped_scenes", "Dropped scenes"),
    ("resolutions", "Source resolutions"),
    ("metrics", "Metric summary"),
]


def _markdown(home: str, generated: str, tables: dict[str, _Table], report: Report) -> str:
    parts = [f"# VidGen curation report\n\nGenerated {generated} from store `{home}`.\n"]
    for key, title in _SECTIONS:
        parts.append(f"## {title}\n\n{tables[key].markdown()}\n")
    parts.append("## Figures\n")
    for name in (*FIGURES, FUNNEL):
        label = FIGURES[name][0] if name in FIGURES else "Curation funnel"
        if name in report.figures:
            parts.append(f"- {label}: `{report.figures[name].name}`")
        else:
            parts.append(f"- {label}: {report.missing.get(name, 'not computed')}")
    return "\n".join(parts) + "\n"


_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2em auto;max-width:1200px;color:#222;
     padding:0 1em}
h1{margin-bottom:.2em} .meta{color:#555;margin-top:0} h2{border-bottom:1px solid #ddd;padding-bottom:.2em;margin-top:2em}
table{border-collapse:collapse;margin:.6em 0 1.2em} th,td{border:1px solid #ccc;padding:.25em .6em}
th{background:#f3f3f3;text-align:left} td.num{text-align:right;font-variant-numeric:tabular-nums}
figure{margin:1em 0} figure img{max-width:100%;border:1px solid #eee} figcaption{color:#555;font-size:.9em}
.missing{background:#fff6e0;border:1px solid #f0d58c;padding:.6em 1em;border-radius:4px}
code{background:#f5f5f5;padding:0 .2em}
"""


def _img(path: Path, alt: str) -> str:
    b64 = base64.b64encode(path.read_bytes()).decode("ascii")
    return f'<img src="data:image/png;base64,{b64}" alt="{html.escape(alt)}">'


def _html(home: str, generated: str, tables: dict[str, _Table], report: Report, thresholds: dict,
          clip_cfg: dict) -> str:
    e = html.escape
    out = io.StringIO()
    out.write(f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>VidGen curation report</title>'
              f"<style>{_CSS}</style></head><body>\n<h1>VidGen curation report</h1>\n"
              f'<p class="meta">Generated <time>{e(generated)}</time> from store <code>{e(home)}</code></p>\n')
    n = report.numbers
    out.write(f"<p>{_fmt(n.get('videos', 0))} videos, {_fmt(n.get('clips', 0))} clips, "
              f"{_fmt(n.get('clips_kept', 0))} kept.</p>\n")
    for key, title in _SECTIONS[:2]:
        out.write(f"<h2>{e(title)}</h2>\n{tables[key].html()}\n")
        if key == "funnel":
            out.write(_figure_html(report, FUNNEL, "Curation funnel"))
    for key, title in _SECTIONS[2:4]:
        out.write(f"<h2>{e(title)}</h2>\n{tables[key].html()}\n")
    out.write("<h2>Figure 2: distributions</h2>\n")
    active = ", ".join(f"{k} = {v:g}" for k, v in thresholds.items() if v is not None)
    lengths = ", ".join(f"clips.{k} = {clip_cfg[k]:g}" for k in ("min_seconds", "max_seconds")
                        if clip_cfg.get(k) is not None)
    active = ", ".join(x for x in (active, lengths) if x)
    out.write(f"<p>Thresholds drawn as dashed red lines (from the configuration): {e(active or 'none')}. "
              "Blue: every clip with the score; orange: clips kept at the end of curation.</p>\n")
    for name, (title, _) in FIGURES.items():
        out.write(_figure_html(report, name, title))
    for key, title in _SECTIONS[4:]:
        out.write(f"<h2>{e(title)}</h2>\n{tables[key].html()}\n")
    out.write("</body></html>\n")
    return out.getvalue()


def _figure_html(report: Report, name: str, title: str) -> str:
    if name in report.figures:
        return (f'<figure id="fig-{name}">{_img(report.figures[name], title)}'
                f"<figcaption>{html.escape(title)}</figcaption></figure>\n")
    why = report.missing.get(name, "not computed")
    return (f'<div class="missing" id="fig-{name}"><strong>{html.escape(title)}</strong>: '
            f"{html.escape(why)}</div>\n")
