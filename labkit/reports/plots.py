"""Seaborn figures for report notebooks: titled, labeled, readable at page width.

Each function draws one figure and returns it; in a notebook the inline backend embeds it as a PNG.
Text that comes from data (labels, slices, pseudonyms) goes through :func:`_t`, which escapes ``$``
so matplotlib draws it as text instead of parsing it as math. Weeks are drawn as evenly spaced
categories, so one stray timestamp years away cannot squash the chart.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd


def _t(value: Any) -> str:
    """Data text for a figure: ``$`` escaped so matplotlib does not parse it as math."""
    return str(value).replace("$", r"\$")


def _weeks(values: Any) -> list[str]:
    return [pd.Timestamp(v).strftime("%Y-%m-%d")
            for v in values]


def _plt() -> Any:
    import matplotlib.pyplot as plt

    return plt


def interval_plot(df: pd.DataFrame, cat: str, value: str = "value", lo: str = "ci_low", hi: str = "ci_high", *,
                  title: str, xlabel: str, ref: float | None = None, ref_label: str = "", xlim: tuple[float, float] | None = None,
                  highlight: str | Any = None) -> Any:
    """Horizontal point estimates with interval bars, one row per category (sorted as given).

    ``highlight``: one category or a collection of them, drawn in red (e.g. the people a finding names).
    """
    plt = _plt()
    d = df.dropna(subset=[value])
    h = max(2.2, 0.32 * len(d) + 1.2)
    fig, ax = plt.subplots(figsize=(8, min(h, 14)))
    y = np.arange(len(d))
    v = d[value].to_numpy(float)
    err = np.vstack([v - d[lo].to_numpy(float), d[hi].to_numpy(float) - v])
    err = np.where(np.isfinite(err), np.maximum(err, 0), 0)
    hl = {highlight} if isinstance(highlight, str) else set(map(str, highlight or ()))
    colors = ["#c0392b" if str(c) in hl else "#3b6ea5" for c in d[cat]]
    ax.errorbar(v, y, xerr=err, fmt="none", ecolor="#888", capsize=3, lw=1.2)
    ax.scatter(v, y, c=colors, zorder=3, s=28)
    ax.set_yticks(y, [_t(c) for c in d[cat]])
    ax.set_ylim(len(d) - 0.5, -0.5)
    if ref is not None and np.isfinite(ref):
        ax.axvline(ref, color="#444", ls="--", lw=1, label=ref_label or None)
        if ref_label:
            ax.legend(loc="lower right", frameon=True)
    if xlim:
        ax.set_xlim(*xlim)
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("")
    return fig


def weekly_bars(weekly: pd.DataFrame, *, title: str, ylabel: str = "judgements", hue: str = "stage") -> Any:
    """Stacked bars per week (``week``, ``hue``, ``judgements``)."""
    plt = _plt()
    pv = weekly.pivot_table(index="week", columns=hue, values="judgements", aggfunc="sum", fill_value=0, observed=True)
    fig, ax = plt.subplots(figsize=(8, 3.6))
    bottom = np.zeros(len(pv))
    import seaborn as sns

    pal = sns.color_palette("colorblind", len(pv.columns))
    labels = _weeks(pv.index)
    x = np.arange(len(pv))
    for i, col in enumerate(pv.columns):
        ax.bar(x, pv[col].to_numpy(), bottom=bottom, label=_t(col), color=pal[i])
        bottom += pv[col].to_numpy()
    ax.set_xticks(x, labels)
    ax.set_title(title)
    ax.set_xlabel("week starting (UTC)")
    ax.set_ylabel(ylabel)
    ax.legend(title=hue, loc="center left", bbox_to_anchor=(1.0, 0.5), frameon=False)
    ax.tick_params(axis="x", rotation=45)
    return fig


def histogram(values: np.ndarray, *, title: str, xlabel: str, log: bool = False, bins: int = 30,
              vline: float | None = None, vline_label: str = "") -> Any:
    plt = _plt()
    import seaborn as sns

    vals = np.asarray(values, float)
    vals = vals[np.isfinite(vals)]
    fig, ax = plt.subplots(figsize=(8, 3.4))
    if log:
        vals = vals[vals > 0]
    sns.histplot(vals, bins=bins, log_scale=log, ax=ax, color="#3b6ea5")
    if vline is not None:
        ax.axvline(vline, color="#c0392b", ls="--", lw=1.2, label=vline_label or None)
        if vline_label:
            ax.legend(frameon=True)
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("count")
    return fig


def heatmap(matrix: pd.DataFrame, *, title: str, xlabel: str, ylabel: str, fmt: str = ".0%") -> Any:
    plt = _plt()
    import seaborn as sns

    n = max(matrix.shape)
    size = min(3 + 0.65 * n, 11)
    fig, ax = plt.subplots(figsize=(size + 1.5, size))
    matrix = matrix.rename(index=_t, columns=_t)
    sns.heatmap(matrix.astype(float), annot=n <= 12, fmt=fmt, cmap="Blues", vmin=0, vmax=1, ax=ax,
                cbar_kws={"label": "share of the row"}, linewidths=0.5, linecolor="#eee")
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.tick_params(axis="x", rotation=45)
    ax.tick_params(axis="y", rotation=0)
    return fig


def reliability_diagram(bins: pd.DataFrame, ece: float, *, title: str, xlabel: str = "stated confidence (bin mean)",
                        ylabel: str = "observed accuracy", unit: str = "judgements") -> Any:
    """Observed accuracy against mean confidence per bin; marker area ~ the bin's count."""
    plt = _plt()
    d = bins.loc[bins["judgements"] > 0]
    fig, ax = plt.subplots(figsize=(5.6, 5))
    ax.plot([0, 1], [0, 1], ls="--", color="#888", lw=1, label="perfect calibration")
    size = 20 + 280 * d["judgements"] / max(d["judgements"].max(), 1)
    ax.plot(d["mean_confidence"], d["accuracy"], color="#3b6ea5", lw=1.2)
    ax.scatter(d["mean_confidence"], d["accuracy"], s=size, color="#3b6ea5", zorder=3, label=f"bins (area ~ {unit})")
    ax.set_xlim(-0.02, 1.03)
    ax.set_ylim(-0.02, 1.03)
    ax.set_title(f"{title}\nexpected calibration error {ece:.3f}")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.legend(loc="upper left", frameon=True)
    return fig


def band_lines(df: pd.DataFrame, x: str, series: dict[str, tuple[str, str, str]], *, title: str, ylabel: str,
               ylim: tuple[float, float] | None = None, percent: bool = False) -> Any:
    """One line per series with its interval band: ``{name: (value_col, lo_col, hi_col)}``."""
    plt = _plt()
    import seaborn as sns

    fig, ax = plt.subplots(figsize=(8, 3.6))
    xs = np.arange(len(df))
    pal = sns.color_palette("colorblind", len(series))
    for (name, (v, lo, hi)), col in zip(series.items(), pal):
        ax.plot(xs, df[v].astype(float), marker="o", color=col, label=_t(name))
        ax.fill_between(xs, df[lo].astype(float), df[hi].astype(float), color=col, alpha=0.18)
    ax.set_xticks(xs, _weeks(df[x]) if x == "week" else [_t(v) for v in df[x]])
    if ylim:
        ax.set_ylim(*ylim)
    if percent:
        from matplotlib.ticker import PercentFormatter

        ax.yaxis.set_major_formatter(PercentFormatter(1.0))
    ax.set_title(title)
    ax.set_xlabel("week starting (UTC)" if x == "week" else x)
    ax.set_ylabel(ylabel)
    ax.tick_params(axis="x", rotation=45)
    if len(series) > 1:
        ax.legend(frameon=True)
    return fig


def stacked_shares(shares: pd.DataFrame, *, title: str) -> Any:
    """Stacked area of label shares per week (rows: weeks, columns: labels)."""
    plt = _plt()
    import seaborn as sns

    fig, ax = plt.subplots(figsize=(8, 3.8))
    pal = sns.color_palette("colorblind", shares.shape[1])
    x = np.arange(len(shares))
    bottom = np.zeros(len(shares))
    for c, col in zip(shares.columns, pal):
        ax.bar(x, shares[c].to_numpy(), bottom=bottom, label=_t(c), color=col, width=0.85)
        bottom += shares[c].to_numpy()
    ax.set_xticks(x, _weeks(shares.index))
    from matplotlib.ticker import PercentFormatter

    ax.yaxis.set_major_formatter(PercentFormatter(1.0))
    ax.set_ylim(0, 1)
    ax.set_title(title)
    ax.set_xlabel("week starting (UTC)")
    ax.set_ylabel("share of judgements")
    ax.legend(loc="center left", bbox_to_anchor=(1.0, 0.5), frameon=False, fontsize=9)
    ax.tick_params(axis="x", rotation=45)
    return fig


def you_and_pool(df: pd.DataFrame, *, title: str, ylabel: str) -> Any:
    """Weekly accuracy: the pool as a line with its band, you as points with interval bars.

    ``df`` has ``week``, ``who`` ("you" / "pool"), ``accuracy``, ``ci_low``, ``ci_high``, ``n``. Your
    weeks are not joined by a line: with a few judgements a week the points are noisy and the bars
    say how much.
    """
    plt = _plt()
    weeks = sorted(df["week"].unique())
    pos = {w: i for i, w in enumerate(weeks)}
    fig, ax = plt.subplots(figsize=(8, 3.6))
    pool = df.loc[df["who"] == "pool"].sort_values("week")
    if len(pool):
        x = pool["week"].map(pos).to_numpy()
        ax.plot(x, pool["accuracy"], color="#888", marker="o", ms=4, label="pool")
        ax.fill_between(x, pool["ci_low"], pool["ci_high"], color="#888", alpha=0.18)
    you = df.loc[df["who"] == "you"].sort_values("week")
    if len(you):
        x = you["week"].map(pos).to_numpy() + 0.06
        v = you["accuracy"].to_numpy(float)
        err = np.vstack([np.maximum(v - you["ci_low"].to_numpy(float), 0), np.maximum(you["ci_high"].to_numpy(float) - v, 0)])
        ax.errorbar(x, v, yerr=err, fmt="o", color="#c0392b", capsize=3, label="you (bars: 95% interval)")
    ax.set_xticks(range(len(weeks)), _weeks(weeks))
    ax.set_ylim(-0.02, 1.02)
    from matplotlib.ticker import PercentFormatter

    ax.yaxis.set_major_formatter(PercentFormatter(1.0))
    ax.set_title(title)
    ax.set_xlabel("week starting (UTC)")
    ax.set_ylabel(ylabel)
    ax.tick_params(axis="x", rotation=45)
    ax.legend(loc="center left", bbox_to_anchor=(1.0, 0.5), frameon=False)
    return fig
