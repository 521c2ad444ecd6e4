"""One plotting style for every figure the package draws (``reproduce fig1|fig2|fig3``, ``predict``, ``train``,
``entropy``).

Rules, so that all figures read alike:

- **Theory is a line, an ensemble is markers, in the same hue per quantity.** :data:`PALETTE` gives one
  colour-blind-safe hue (Okabe–Ito) per quantity: train and test losses, L_μ, L_γ, L_Ψl, fidelity, von Neumann and
  Rényi-2 entropies. :func:`theory_line` draws the infinite-width / closed-form prediction, :func:`limit_line` its
  τ → ∞ value (dashed), :func:`ensemble_points` a sampled or trained finite ensemble. Several widths of one
  quantity keep its hue and get lighter the narrower they are (:func:`width_shade`) and a marker shape each.
- **Reference values** that are not predictions of the plotted data (maximum entropy) are neutral grey
  (:func:`reference_line`).
- **Reduced settings are labelled on the figure** (:func:`settings_note`).
- **Files.** :func:`save_figure` writes ``NAME.png`` at :data:`DPI` = 300 dots per inch and ``NAME.pdf`` (vector),
  each to a temporary name and renamed into place (:func:`nnqs_fast.experiments.io.atomic_path`).

Matplotlib is imported lazily (Agg backend), so importing this module costs nothing.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "DPI",
    "LOSS_LABEL",
    "MARKERS",
    "PALETTE",
    "ensemble_points",
    "legend",
    "limit_line",
    "new_figure",
    "panel_label",
    "reference_line",
    "save_figure",
    "settings_note",
    "style",
    "theory_line",
    "width_shade",
]

#: Resolution of the PNG files (dots per inch).
DPI = 300

#: One hue per quantity (Okabe–Ito colour-blind-safe palette).
PALETTE: dict[str, str] = {
    "train": "#0072B2",     # blue
    "test": "#D55E00",      # vermillion
    "mu": "#009E73",        # bluish green
    "gamma": "#CC79A7",     # reddish purple
    "psi": "#1A1A1A",       # near black
    "fidelity": "#E69F00",  # orange
    "vn": "#0072B2",
    "renyi2": "#D55E00",
    "renyi": "#009E73",
    "tsallis": "#CC79A7",
    "reference": "#7F7F7F",
}

#: Axis label of the ensemble loss (Eq. 17): mean over members of the loss of Eq. 13.
LOSS_LABEL = r"$L_{\Psi_l}=\frac{1}{n}\sum_{x}\langle|\psi_T(x)-\psi(x)|^2\rangle$"

#: Marker shapes, one per width (or per series) in order.
MARKERS = ("o", "s", "^", "D", "v", "P", "X")

_RC: dict[str, Any] = {
    "font.size": 10, "axes.labelsize": 10.5, "axes.titlesize": 10.5, "legend.fontsize": 8.5,
    "xtick.labelsize": 9, "ytick.labelsize": 9, "axes.linewidth": 0.8, "lines.linewidth": 1.8,
    "lines.markersize": 5, "xtick.direction": "in", "ytick.direction": "in", "xtick.top": True,
    "ytick.right": True, "xtick.minor.visible": True, "ytick.minor.visible": True, "legend.frameon": False,
    "axes.grid": False, "savefig.bbox": "tight", "savefig.pad_inches": 0.04, "pdf.fonttype": 42,
    "mathtext.fontset": "dejavusans", "axes.formatter.use_mathtext": True, "figure.dpi": 100,
}


def _plt() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def style() -> dict[str, Any]:
    """Apply the house style to matplotlib's rcParams; returns the settings applied."""
    plt = _plt()
    plt.rcParams.update(_RC)
    return dict(_RC)


def new_figure(panels: int = 1, *, ncols: int | None = None, panel_size: tuple[float, float] = (4.2, 3.2),
               height_ratios: Sequence[float] | None = None, sharex: bool = False) -> tuple[Any, list[Any]]:
    """A styled figure with ``panels`` axes in a grid of ``ncols`` columns (default: one row); ``(fig, axes)``.

    ``height_ratios`` (one column only) stacks panels of unequal height, e.g. a main panel over a residual panel.
    """
    plt = _plt()
    style()
    if height_ratios is not None:
        ncols = 1
        nrows = len(height_ratios)
        w, h = panel_size
        fig, axes = plt.subplots(nrows, 1, figsize=(w, h * sum(height_ratios) / max(height_ratios)),
                                 gridspec_kw={"height_ratios": list(height_ratios)}, sharex=sharex,
                                 layout="constrained")
    else:
        ncols = panels if ncols is None else ncols
        nrows = -(-panels // ncols)
        fig, axes = plt.subplots(nrows, ncols, figsize=(panel_size[0] * ncols, panel_size[1] * nrows),
                                 sharex=sharex, layout="constrained", squeeze=False)
    flat = list(np.ravel(axes))
    for ax in flat[panels:]:
        ax.set_visible(False)
    return fig, flat[:panels]


def _colour(quantity: str) -> str:
    return PALETTE.get(quantity, quantity)


def width_shade(quantity: str, rank: int, n_ranks: int) -> tuple[float, float, float]:
    """The hue of ``quantity``, lighter for lower ``rank`` (0 = narrowest) and full for ``rank = n_ranks − 1``."""
    from matplotlib.colors import to_rgb

    base = np.array(to_rgb(_colour(quantity)))
    f = 0.0 if n_ranks <= 1 else 0.5 * (n_ranks - 1 - rank) / (n_ranks - 1)
    r, g, b = base + (1.0 - base) * f
    return float(r), float(g), float(b)


def theory_line(ax: Any, x: Any, y: Any, quantity: str, *, label: str | None = None, ls: Any = "-",
                **kw: Any) -> Any:
    """A theory curve (closed form / infinite width) of ``quantity``: a solid line in its hue."""
    kw.setdefault("lw", 1.8)
    kw.setdefault("zorder", 3)
    return ax.plot(np.asarray(x), np.asarray(y), ls=ls, color=_colour(quantity), label=label, **kw)[0]


def limit_line(ax: Any, y: float, quantity: str, *, label: str | None = None, **kw: Any) -> Any:
    """The τ → ∞ value of a theory curve: a dashed horizontal line in the quantity's hue."""
    kw.setdefault("lw", 1.2)
    kw.setdefault("zorder", 2)
    return ax.axhline(float(y), ls="--", color=_colour(quantity), label=label, **kw)


def ensemble_points(ax: Any, x: Any, y: Any, quantity: str, *, yerr: Any = None, label: str | None = None,
                    rank: int = 0, n_ranks: int = 1, marker: str | None = None, connect: bool = False,
                    **kw: Any) -> Any:
    """A finite ensemble's values of ``quantity``: markers in its hue (lighter for narrower widths).

    ``rank``/``n_ranks`` order several widths (0 = narrowest, drawn lightest); ``marker`` defaults to
    ``MARKERS[rank]``; ``connect`` joins the markers with a thin line; ``yerr`` draws error bars (e.g. the
    standard error of the ensemble mean).
    """
    col = width_shade(quantity, rank, n_ranks)
    m = MARKERS[rank % len(MARKERS)] if marker is None else marker
    kw.setdefault("ms", 5)
    style_kw = {"marker": m, "color": col, "mec": _edge(col), "mew": 0.6, "ls": "-" if connect else "none",
                "lw": 0.9, "label": label, "zorder": 4}
    style_kw.update(kw)
    if yerr is not None:
        return ax.errorbar(np.asarray(x), np.asarray(y), yerr=np.asarray(yerr), capsize=2, elinewidth=0.8,
                           **style_kw)
    return ax.plot(np.asarray(x), np.asarray(y), **style_kw)[0]


def _edge(col: tuple[float, float, float]) -> tuple[float, float, float]:
    r, g, b = (0.7 * c for c in col)
    return r, g, b


def reference_line(ax: Any, x: Any, y: Any, *, label: str | None = None, ls: str = ":", **kw: Any) -> Any:
    """A neutral grey reference (e.g. the maximum entropy log min(D_A, D_B))."""
    kw.setdefault("lw", 1.4)
    kw.setdefault("zorder", 2)
    return ax.plot(np.asarray(x), np.asarray(y), ls=ls, color=PALETTE["reference"], label=label, **kw)[0]


def settings_note(ax: Any, text: str, *, loc: str = "lower left") -> Any:
    """A small grey note stating the settings (e.g. "reduced CPU settings …; paper: …").

    ``loc``: a corner inside ``ax`` ("lower left", …), "outside right" (right of ``ax``), or "below" (centred
    under the whole figure; the saved file's tight bounding box takes it in).
    """
    if loc == "below":
        return ax.figure.text(0.5, -0.01, text, ha="center", va="top", fontsize=8, color="#444444",
                              bbox={"boxstyle": "round,pad=0.3", "fc": "white", "ec": "#BBBBBB", "lw": 0.6})
    pos = {"lower left": (0.02, 0.03, "left", "bottom"), "upper left": (0.02, 0.97, "left", "top"),
           "outside right": (1.03, 0.0, "left", "bottom"),
           "upper right": (0.98, 0.97, "right", "top"), "lower right": (0.98, 0.03, "right", "bottom")}[loc]
    return ax.text(pos[0], pos[1], text, transform=ax.transAxes, ha=pos[2], va=pos[3], fontsize=7.5,
                   color="#444444", zorder=6,
                   bbox={"boxstyle": "round,pad=0.3", "fc": "white", "ec": "#BBBBBB", "lw": 0.6, "alpha": 0.9})


def panel_label(ax: Any, letter: str) -> Any:
    """``(a)``, ``(b)``, … in the upper-left corner outside the axes."""
    return ax.text(-0.02, 1.02, f"({letter})", transform=ax.transAxes, ha="right", va="bottom",
                   fontsize=11, fontweight="bold")


def legend(ax: Any, handles: Sequence[Any] | None = None, *, title: str | None = None, loc: str = "best",
           **kw: Any) -> Any:
    """A legend in the house style; returns it (add several with ``ax.add_artist``)."""
    kw.setdefault("handlelength", 2.2)
    if handles is None:
        leg = ax.legend(title=title, loc=loc, **kw)
    else:
        leg = ax.legend(handles=list(handles), title=title, loc=loc, **kw)
    if title:
        leg.get_title().set_fontsize(8.5)
    return leg


def rate_label(lr_factor: float | None, given: bool = False, *, per_size: bool = False) -> str:
    """The learning-rate rule as a label: ``η = 0.9 η_max`` (``η_max(n)`` when per train size) or ``fixed η``."""
    if given or lr_factor is None:
        return r"fixed $\eta$"
    arg = "(n)" if per_size else ""
    return rf"$\eta = {lr_factor:g}\,\eta_{{\max}}{arg}$"


def save_figure(fig: Any, out_dir: str | os.PathLike, name: str, *, close: bool = True) -> tuple[Path, Path]:
    """Write ``out_dir/name.png`` (300 dpi) and ``out_dir/name.pdf`` (vector) atomically; returns both paths."""
    from ..errors import InvalidInputError
    from .io import atomic_path

    if not name or any(c in name for c in "/\\"):
        raise InvalidInputError(f"figure name must be a plain file stem, got {name!r}")
    out = Path(out_dir)
    paths = (out / f"{name}.png", out / f"{name}.pdf")
    try:
        for path, fmt in zip(paths, ("png", "pdf")):
            with atomic_path(path) as tmp:
                fig.savefig(tmp, format=fmt, dpi=DPI, metadata=_metadata(fmt))
    finally:
        if close:
            _plt().close(fig)
    return paths


def _metadata(fmt: str) -> dict[str, str]:
    from .._version import __version__

    meta = {"Creator": f"nnqs_fast {__version__}"}
    if fmt == "pdf":
        meta["CreationDate"] = None  # type: ignore[assignment]  # reproducible bytes
    return meta
