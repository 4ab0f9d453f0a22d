from __future__ import annotations

import io
import re

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure
from matplotlib.text import Text

from sma_response.evaluate import subgroup_metrics
from sma_response.evaluate.plots import (
    plot_calibration,
    plot_decision_curve,
    plot_forest,
    plot_predicted_vs_observed,
    plot_roc,
)

ID_LIKE = re.compile(r"[0-9a-f]{16}")


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    p = rng.uniform(0.02, 0.98, 400)
    y = (rng.random(400) < p).astype(float)
    ids = [f"{i:016x}#1" for i in range(400)]
    pred = pd.DataFrame({"index_id": ids, "y_true": y, "y_pred": p})
    groups = pd.DataFrame(
        {"region": rng.choice(["DE", "IT", "NL", "US"], 400)}, index=pd.Index(ids, name="index_id")
    )
    return y, p, subgroup_metrics(pred, groups, task="classification", rng=rng, n_boot=20)


def _figures(data):
    y, p, sub = data
    return {
        "roc": lambda: plot_roc(y, p),
        "calibration": lambda: plot_calibration(y, p),
        "decision": lambda: plot_decision_curve(y, p),
        "forest": lambda: plot_forest(sub),
        "pred_obs": lambda: plot_predicted_vs_observed(p * 10, p * 9 + 1),
    }


def _png(fig: Figure) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=60, metadata={"Software": None})
    return buf.getvalue()


@pytest.mark.parametrize("name", ["roc", "calibration", "decision", "forest", "pred_obs"])
def test_figures_render_deterministically_without_ids(data, name):
    make = _figures(data)[name]
    fig = make()
    assert isinstance(fig, Figure)
    assert _png(fig) == _png(make())
    texts = [t.get_text() for t in fig.findobj(Text)]
    assert not any(ID_LIKE.search(t) for t in texts)


def test_forest_shows_one_row_per_region(data):
    _, _, sub = data
    fig = plot_forest(sub, metric="auroc", variable="region")
    labels = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    assert [label.split(" ")[0] for label in labels] == ["US", "NL", "IT", "DE"]


def test_calibration_plot_of_an_all_responder_bin_has_no_negative_error_bar():
    """Issue #14.1: a bin of responders only put a Wilson bound 1e-16 below its proportion."""
    p = np.linspace(0.01, 0.99, 300)
    y = (p > 0.3).astype(float)
    fig = plot_calibration(y, p)
    (container,) = [c for c in fig.axes[0].containers if hasattr(c, "lines")]
    segments = container.lines[2][0].get_segments()
    assert all(seg[1][1] >= seg[0][1] for seg in segments)
