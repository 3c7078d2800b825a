"""PNG plots of a results record (matplotlib, Agg backend; skipped if it is missing)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ._report import SYSTEM_TITLES

__all__ = ("make_plots",)

_COLORS = {
    "baseline": "#9e9e9e",
    "baseline_sqlite": "#616161",
    "flowyml off": "#1e88e5",
    "flowyml on": "#0d47a1",
    "flowyml": "#1e88e5",
    "prefect": "#e53935",
    "hamilton": "#fb8c00",
    "flowyml221": "#8e24aa",
}


def _key(c: dict[str, Any]) -> str:
    if c["system"] == "flowyml" and c["persist"] is not None:
        return "flowyml on" if c["persist"] else "flowyml off"
    return str(c["system"])


def _title(key: str) -> str:
    if key.startswith("flowyml ") and key != "flowyml 2.2.1":
        return f"flowyml, persistence {key.split()[1]}"
    return SYSTEM_TITLES.get(key, key)


def _bars(ax: Any, groups: list[str], series: dict[str, dict[str, float]], ylabel: str) -> None:
    import numpy as np

    keys = list(series)
    width = 0.8 / max(1, len(keys))
    x = np.arange(len(groups))
    for i, key in enumerate(keys):
        values = [series[key].get(g, 0.0) for g in groups]
        ax.bar(
            x + i * width - 0.4 + width / 2,
            values,
            width,
            label=_title(key),
            color=_COLORS.get(key),
        )
    ax.set_xticks(x, groups, rotation=15, fontsize=8)
    ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=4)
    ax.set_ylabel(ylabel)
    ax.set_yscale("log")
    ax.grid(axis="y", alpha=0.3)


def _series(
    cases: list[dict[str, Any]], metric: str
) -> tuple[list[str], dict[str, dict[str, float]]]:
    groups: list[str] = []
    series: dict[str, dict[str, float]] = {}
    for c in cases:
        value = c.get("median", {}).get(metric) if c["status"] == "ok" else None
        if value is None:
            continue
        if c["label"] not in groups:
            groups.append(c["label"])
        series.setdefault(_key(c), {})[c["label"]] = float(value)
    return groups, series


def make_plots(record: dict[str, Any], out_dir: Path, prefix: str = "") -> list[Path]:
    """Write the plots that the record has data for; return their paths."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return []
    out_dir.mkdir(parents=True, exist_ok=True)
    cases = record["cases"]
    written: list[Path] = []

    def save(fig: Any, name: str) -> None:
        path = out_dir / f"{prefix}{name}.png"
        fig.tight_layout()
        fig.savefig(path, dpi=110)
        plt.close(fig)
        written.append(path)

    noop = [c for c in cases if c["scenario"] in ("a", "b") and c["mode"] == "run"]
    cache = [c for c in cases if c["scenario"] == "d"]
    if noop:
        fig, axes = plt.subplots(1, 2 if cache else 1, figsize=(12 if cache else 8, 5.5))
        axes = list(axes) if cache else [axes]
        _bars(axes[0], *_series(noop, "ms_per_step"), "ms per step (median, log)")
        axes[0].set_title("(a, b, e) no-op steps: cost per step")
        if cache:
            _bars(axes[1], *_series(cache, "ms_per_step"), "ms per step (median, log)")
            axes[1].axhline(0.5, color="green", ls="--", lw=1, label="target 0.5 ms")
            axes[1].set_title("(d) re-run, every step a cache hit")
            axes[1].legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=3)
        save(fig, "overhead")
    sleep = [c for c in cases if c["scenario"] == "c"]
    if sleep:
        fig, ax = plt.subplots(figsize=(8, 5.5))
        _bars(ax, *_series(sleep, "wall_s"), "wall seconds (median, log)")
        ax.axhline(0.3, color="green", ls="--", lw=1, label="target 0.3 s")
        ax.set_title("(c) independent sleeping steps: wall time")
        ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=4)
        save(fig, "concurrency")
    scaling = [c for c in cases if c["scenario"] == "f" and c["status"] == "ok"]
    if scaling:
        fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.5))
        for kind in ("chain", "fanout"):
            for system in ("baseline", "flowyml"):
                runs = [
                    c
                    for c in scaling
                    if c["mode"] == "run" and c["system"] == system and c["shape"]["kind"] == kind
                ]
                mems = [
                    c
                    for c in scaling
                    if c["mode"] == "memory"
                    and c["system"] == system
                    and c["shape"]["kind"] == kind
                ]
                style = "-" if system == "flowyml" else "--"
                label = f"{SYSTEM_TITLES[system]} {kind}"
                if runs:
                    left.plot(
                        [c["steps"] for c in runs],
                        [c["median"]["wall_s"] for c in runs],
                        style,
                        marker="o",
                        label=label,
                    )
                if mems:
                    right.plot(
                        [c["steps"] for c in mems],
                        [c["median"]["kb_per_step"] for c in mems],
                        style,
                        marker="o",
                        label=label,
                    )
        left.set(
            xscale="log",
            yscale="log",
            xlabel="steps",
            ylabel="wall seconds (median)",
            title="(f) wall time, persistence off",
        )
        right.set(
            xscale="log",
            xlabel="steps",
            ylabel="KB per step (tracemalloc peak)",
            title="(f) memory allocated during the run",
        )
        right.axhline(2.0, color="green", ls="--", lw=1, label="target 2 KB/step")
        for ax in (left, right):
            ax.grid(alpha=0.3)
            ax.legend(fontsize=7)
        save(fig, "scaling")
    startup = [c for c in cases if c["scenario"] == "g"]
    if startup:
        fig, ax = plt.subplots(figsize=(8, 4.5))
        groups: list[str] = []
        series: dict[str, dict[str, float]] = {}
        for c in startup:
            if c["status"] != "ok":
                continue
            metric = "import_s" if c["mode"] == "import" else "cold_total_s"
            group = "import" if c["mode"] == "import" else "cold first run"
            if group not in groups:
                groups.append(group)
            series.setdefault(c["system"], {})[group] = c["median"][metric]
        _bars(ax, groups, series, "seconds (median, log)")
        ax.set_title("(g) import time and cold first run")
        save(fig, "startup")
    return written
