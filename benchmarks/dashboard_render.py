"""Draw a Grafana dashboard as one PNG from the series its queries returned (matplotlib, no Grafana).

The layout is the dashboard's own: its 24-column grid and each panel's
`gridPos`, rows as headings, Grafana's dark theme and classic palette. Each
panel type is drawn as Grafana draws it, as far as a static picture goes:

* timeseries: one line per series with its legend, the unit on the y axis,
  threshold lines where the panel shows them, value mappings as tick labels;
* stat: the last non-null value, coloured by the thresholds, a sparkline under it;
* bargauge: one horizontal bar per series with its last value.

`series` maps a panel id to what its targets returned: a list of
`{"legend": str, "points": [[unix_seconds, value | None], ...]}`.
"""

from __future__ import annotations

import math
import textwrap
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.dates as mdates
import matplotlib.pyplot as plt
from matplotlib.patches import FancyBboxPatch
from matplotlib.ticker import FuncFormatter, MaxNLocator, MultipleLocator

BACKGROUND = "#111217"
PANEL = "#181b1f"
BORDER = "#2c3235"
TEXT = "#ccccdc"
MUTED = "#8e8e9e"
GRID = "#2c3235"
PALETTE = ["#73bf69", "#f2cc0c", "#8ab8ff", "#ff780a", "#f2495c", "#5794f2", "#b877d9", "#705da0", "#37872d", "#fade2a"]
NAMED = {
    "green": "#73bf69",
    "red": "#f2495c",
    "orange": "#ff9830",
    "yellow": "#fade2a",
    "blue": "#5794f2",
    "purple": "#b877d9",
    "transparent": None,
}
COLUMN_PX, ROW_PX, HEADER_PX = 80, 30, 70
DPI = 100


def color(name: str | None) -> str | None:
    if name is None:
        return None
    return NAMED.get(name, name)


# --- units ---------------------------------------------------------------------------------------------


def _si(value: float, decimals: int | None = None) -> str:
    magnitude = abs(value)
    for limit, suffix in ((1e9, " B"), (1e6, " M"), (1e3, " K")):
        if magnitude >= limit:
            # Three significant figures at least: 1,440 refunds read "1.44 K", not "1 K".
            places = 1 if decimals is None else decimals
            if magnitude / limit < 10:
                places = max(places, 2)
            return f"{value / limit:.{places}f}{suffix}"
    if decimals is not None:
        return f"{value:.{decimals}f}"
    if magnitude >= 100 or value == int(value):
        return f"{value:.0f}"
    return f"{value:.2f}" if magnitude < 10 else f"{value:.1f}"


def _seconds(value: float) -> str:
    magnitude = abs(value)
    if magnitude == 0:
        return "0 s"
    if magnitude < 1:
        return f"{value * 1000:.0f} ms"
    if magnitude < 60:
        return f"{value:.1f} s" if magnitude < 10 else f"{value:.0f} s"
    for size, name in ((86400, "d"), (3600, "h"), (60, "min")):
        if magnitude >= size or size == 60:
            amount = value / size
            return f"{amount:.0f} {name}" if amount == int(amount) else f"{amount:.1f} {name}"
    return f"{value:.0f} s"


def formatter(unit: str, decimals: int | None = None):
    """value -> text, for the unit ids of Grafana the dashboards use."""
    if unit == "percentunit":
        return lambda v: f"{v * 100:.{1 if decimals is None else decimals}f} %"
    if unit == "s":
        return _seconds
    if unit == "reqps":
        return lambda v: f"{_si(v, decimals)} req/s"
    if unit == "x":
        return lambda v: f"{v:.{1 if decimals is None else decimals}f}x"
    if unit.startswith("suffix:"):
        suffix = unit.split(":", 1)[1]
        return lambda v: f"{_si(v, decimals)}{suffix}"
    return lambda v: _si(v, decimals)


def mapped(panel: dict[str, Any], value: float) -> tuple[str, str | None] | None:
    """The text (and colour) a value mapping gives `value`, if any."""
    for mapping in panel["fieldConfig"]["defaults"].get("mappings", []):
        if mapping.get("type") != "value":
            continue
        for key, result in mapping["options"].items():
            if float(key) == value:
                return result["text"], color(result.get("color"))
    return None


def threshold_color(panel: dict[str, Any], value: float) -> str:
    steps = panel["fieldConfig"]["defaults"].get("thresholds", {}).get("steps", [])
    chosen = "green"
    for step in steps:
        if step["value"] is None or value >= step["value"]:
            chosen = step["color"]
    return color(chosen) or TEXT


# --- drawing ---------------------------------------------------------------------------------------------


def _last(points: list[list[float | None]]) -> float | None:
    for _, value in reversed(points):
        if value is not None and not math.isnan(value):
            return value
    return None


def _clean(points):
    times = [datetime.fromtimestamp(t, UTC) for t, _ in points]
    values = [math.nan if v is None or math.isinf(v) else v for _, v in points]
    return times, values


def _no_data(ax) -> None:
    ax.text(0.5, 0.5, "No data", color=MUTED, ha="center", va="center", fontsize=13, transform=ax.transAxes)
    ax.set_axis_off()


def _seconds_locator(top: float):
    """Ticks on whole minutes or hours once the axis reaches them (1 min, 2 min … not 1.3 min)."""
    for unit in (86400, 3600, 60):
        if top >= 2 * unit:
            return _multiples(top, unit)
    return MaxNLocator(5)


def _multiples(top: float, unit: float):
    for step in (1, 2, 5, 10, 15, 30, 60):
        if top / (step * unit) <= 6:
            return MultipleLocator(step * unit)
    return MaxNLocator(5)


def draw_timeseries(fig, box, panel, results, window) -> None:
    left, bottom, width, height = box
    entries = [series for series in results if any(v is not None for _, v in series["points"])]
    legend_rows = min(math.ceil(len(entries) / 3), 4) if entries else 0
    legend_h = legend_rows * 15 / fig.bbox.height * DPI / DPI
    ax = fig.add_axes(
        (
            left + 62 / fig.bbox.width,
            bottom + legend_h + 22 / fig.bbox.height,
            width - 74 / fig.bbox.width,
            height - legend_h - 56 / fig.bbox.height,
        )
    )
    ax.set_facecolor(PANEL)
    if not entries:
        _no_data(ax)
        return
    defaults = panel["fieldConfig"]["defaults"]
    unit, decimals = defaults.get("unit", "short"), defaults.get("decimals")
    fmt = formatter(unit, decimals)
    step = defaults.get("custom", {}).get("lineInterpolation") == "stepAfter"
    for index, series in enumerate(entries):
        times, values = _clean(series["points"])
        line_color = PALETTE[index % len(PALETTE)]
        if series["legend"] in {"target", "objective"}:
            ax.plot(times, values, color="#f2495c", lw=1.2, ls="--", label=series["legend"])
            continue
        if step:
            ax.step(times, values, where="post", color=line_color, lw=1.8, label=series["legend"])
        else:
            ax.plot(times, values, color=line_color, lw=1.6, label=series["legend"])
            ax.fill_between(times, values, color=line_color, alpha=0.08)
    ax.set_xlim(*window)
    finite = [v for series in entries for _, v in series["points"] if v is not None and math.isfinite(v)]
    top = max(finite, default=0)
    # Grafana's soft minimum 0, and an axis of some height when every value is 0.
    ceiling = defaults.get("max", top * 1.1 if top > 0 else 1)
    ax.set_ylim(defaults.get("min", min(min(finite, default=0), 0)), ceiling)
    if defaults.get("custom", {}).get("thresholdsStyle", {}).get("mode") == "line":
        # As in Grafana, a threshold line shows where the axis reaches it; it does not stretch the axis.
        for threshold in defaults["thresholds"]["steps"]:
            shade = color(threshold["color"])
            if threshold["value"] is not None and shade and threshold["value"] <= ceiling:
                ax.axhline(threshold["value"], color=shade, lw=1, ls="--", alpha=0.8)
    mappings = defaults.get("mappings")
    if mappings:
        ticks = sorted(float(key) for key in mappings[0]["options"])
        ax.set_yticks(ticks, [mapped(panel, tick)[0] for tick in ticks])
    else:
        ax.yaxis.set_major_locator(_seconds_locator(ceiling) if unit == "s" else MaxNLocator(5))
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: fmt(v)))
    ax.xaxis.set_major_locator(mdates.AutoDateLocator(maxticks=6))
    ax.xaxis.set_major_formatter(mdates.DateFormatter("%H:%M", tz=UTC))
    ax.tick_params(colors=MUTED, labelsize=8, length=0)
    ax.grid(color=GRID, lw=0.6)
    for spine in ax.spines.values():
        spine.set_visible(False)
    handles, labels = ax.get_legend_handles_labels()
    if handles:
        fig.legend(
            handles[:12],
            labels[:12],
            loc="lower left",
            bbox_to_anchor=(left + 6 / fig.bbox.width, bottom + 2 / fig.bbox.height),
            ncol=4 if len(handles) <= 4 else 3,
            frameon=False,
            fontsize=8,
            labelcolor=TEXT,
            handlelength=1.2,
            columnspacing=1.2,
            borderaxespad=0,
        )


def draw_stat(fig, box, panel, results, window) -> None:
    left, bottom, width, height = box
    values = [(series["legend"], _last(series["points"]), series) for series in results]
    values = [item for item in values if item[1] is not None]
    ax = fig.add_axes((left, bottom, width, height - 30 / fig.bbox.height))
    ax.set_axis_off()
    if not values:
        _no_data(ax)
        return
    defaults = panel["fieldConfig"]["defaults"]
    fmt = formatter(defaults.get("unit", "short"), defaults.get("decimals"))
    many = len(values) > 1
    for index, (legend, value, series) in enumerate(values[:4]):
        label = mapped(panel, value)
        text, shade = (label[0], label[1] or threshold_color(panel, value)) if label else (fmt(value), None)
        shade = shade or threshold_color(panel, value)
        x = (index + 0.5) / min(len(values), 4)
        size = 26 if not many else 18
        ax.text(x, 0.55, text, color=shade, ha="center", va="center", fontsize=size, fontweight="bold")
        if many:
            ax.text(x, 0.22, legend, color=MUTED, ha="center", va="center", fontsize=9)
        if panel["options"].get("graphMode") == "area" and not many:
            spark = fig.add_axes(
                (left + 4 / fig.bbox.width, bottom + 4 / fig.bbox.height, width - 8 / fig.bbox.width, height * 0.28)
            )
            times, points = _clean(series["points"])
            spark.fill_between(times, points, color=shade, alpha=0.18, lw=0)
            spark.plot(times, points, color=shade, lw=1)
            spark.set_xlim(*window)
            spark.set_axis_off()


def draw_bargauge(fig, box, panel, results, window) -> None:
    left, bottom, width, height = box
    values = [(series["legend"], _last(series["points"])) for series in results]
    values = sorted(((legend, value) for legend, value in values if value is not None), key=lambda item: -item[1])
    ax = fig.add_axes(
        (
            left + 60 / fig.bbox.width,
            bottom + 14 / fig.bbox.height,
            width - 150 / fig.bbox.width,
            height - 50 / fig.bbox.height,
        )
    )
    ax.set_facecolor(PANEL)
    if not values:
        _no_data(ax)
        return
    fmt = formatter(
        panel["fieldConfig"]["defaults"].get("unit", "short"), panel["fieldConfig"]["defaults"].get("decimals")
    )
    top = max(value for _, value in values) or 1
    labels = [legend for legend, _ in values]
    ax.barh(labels, [top] * len(values), color="#22252b", height=0.6)
    for index, (legend, value) in enumerate(values):
        ax.barh([legend], [value], color=PALETTE[index % len(PALETTE)], height=0.6)
        ax.text(top * 1.02, index, fmt(value), color=TEXT, va="center", fontsize=12, fontweight="bold")
    ax.invert_yaxis()
    ax.set_xlim(0, top)
    ax.set_xticks([])
    ax.tick_params(colors=TEXT, labelsize=11, length=0)
    for spine in ax.spines.values():
        spine.set_visible(False)


def _fit(title: str, width_px: float) -> str:
    """The title cut with an ellipsis to the panel's width (about 7 px a character at 10 pt bold), as Grafana does."""
    room = int(width_px / 7)
    return title if len(title) <= room else title[: room - 1].rstrip() + "…"


DRAW = {"timeseries": draw_timeseries, "stat": draw_stat, "bargauge": draw_bargauge}


def render(
    dashboard: dict[str, Any], series: dict[str, list[dict]], window: tuple[float, float], path: Path, subtitle: str
) -> None:
    """One PNG of the whole dashboard; `window` is the time range drawn (unix seconds)."""
    panels = dashboard["panels"]
    rows = max(panel["gridPos"]["y"] + panel["gridPos"]["h"] for panel in panels)
    width_px, height_px = 24 * COLUMN_PX, rows * ROW_PX + HEADER_PX
    fig = plt.figure(figsize=(width_px / DPI, height_px / DPI), dpi=DPI, facecolor=BACKGROUND)
    fig.text(
        12 / width_px, 1 - 26 / height_px, dashboard["title"], color=TEXT, fontsize=17, fontweight="bold", va="center"
    )
    # Wrapped, not cut at the right edge: it says what the run was (load, faults, times).
    lines = textwrap.wrap(subtitle, width=int(width_px / 6.2))[:2]
    fig.text(12 / width_px, 1 - 40 / height_px, "\n".join(lines), color=MUTED, fontsize=9, va="top")
    span = tuple(datetime.fromtimestamp(t, UTC) for t in window)
    for panel in panels:
        grid = panel["gridPos"]
        x0 = (grid["x"] * COLUMN_PX + 4) / width_px
        y_top = (HEADER_PX + grid["y"] * ROW_PX + 4) / height_px
        w = (grid["w"] * COLUMN_PX - 8) / width_px
        h = (grid["h"] * ROW_PX - 8) / height_px
        bottom = 1 - y_top - h
        if panel["type"] == "row":
            fig.text(
                x0 + 2 / width_px,
                bottom + h / 2,
                panel["title"],
                color=TEXT,
                fontsize=12,
                fontweight="bold",
                va="center",
            )
            continue
        fig.patches.append(
            FancyBboxPatch(
                (x0, bottom),
                w,
                h,
                boxstyle="round,pad=0,rounding_size=0.002",
                transform=fig.transFigure,
                facecolor=PANEL,
                edgecolor=BORDER,
                lw=1,
                zorder=-1,
            )
        )
        fig.text(
            x0 + 8 / width_px,
            bottom + h - 15 / height_px,
            _fit(panel["title"], grid["w"] * COLUMN_PX - 16),
            color=TEXT,
            fontsize=10,
            fontweight="bold",
            va="center",
        )
        DRAW[panel["type"]](fig, (x0, bottom, w, h), panel, series.get(str(panel["id"]), []), span)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=DPI, facecolor=BACKGROUND)
    plt.close(fig)
