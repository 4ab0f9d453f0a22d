"""SHAP values of a whole training run: every held-out and every final prediction.

:func:`explain_run` explains each fold model on its held-out rows (checked against the run's
logged predictions) and the final model on every row, ranks the features on the held-out
values (metrics use held-out rows too) and draws the figures. Loads matplotlib.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import pandas as pd
from sklearn.pipeline import Pipeline

from sma_response.explain.folds import check_against_predictions, explain_folds
from sma_response.explain.plots import explanation_figures
from sma_response.explain.shap_values import explain, resolve_method
from sma_response.explain.spec import ExplainSpec
from sma_response.explain.summarise import global_importance, group_importance
from sma_response.schemas import ShapValues

__all__ = ["RunExplanation", "explain_run"]


@dataclass
class RunExplanation:
    """SHAP values, importance and figures of a run.

    ``first`` holds the held-out SHAP values of the first repeat (what reports show);
    ``info`` the explain settings with the method used.
    """

    oof: pd.DataFrame
    final: pd.DataFrame
    first: pd.DataFrame
    importance: pd.DataFrame
    by_region: pd.DataFrame
    info: dict[str, Any]
    figures: dict[str, Any]

    def tables(self) -> dict[str, pd.DataFrame]:
        """Return the tables to log, by artifact path."""
        return {
            "explain/shap_oof.parquet": self.oof,
            "explain/shap_final.parquet": self.final,
            "explain/importance.csv": self.importance,
            "explain/importance_final_model.csv": global_importance(self.final),
            "explain/importance_by_region.csv": self.by_region.reset_index(),
        }


def explain_run(
    fold_models: dict[tuple[int, int], Pipeline],
    final: Pipeline,
    X: pd.DataFrame,
    splits: pd.DataFrame,
    predictions: pd.DataFrame,
    regions: pd.Series,
    *,
    spec: ExplainSpec,
    task: str,
) -> RunExplanation:
    """Explain every held-out and every final prediction of a run; rank features; draw figures.

    ``predictions`` are the run's out-of-fold predictions (the SHAP values must add up to
    them); ``regions`` the region of each index event (per-region importance).
    """
    method = resolve_method(final[-1], method=spec.method)
    used = ExplainSpec(**{**asdict(spec), "method": method})
    oof = explain_folds(fold_models, X, splits, spec=used)
    check_against_predictions(oof, predictions, task=task)
    shap_final = ShapValues.validate(explain(final, X, spec=used), lazy=True)
    first = oof.loc[oof["repeat"] == predictions["repeat"].min()]
    importance = global_importance(first)
    figures = explanation_figures(
        first, X, regions, importance=importance, n_top=spec.n_top,
        n_dependence=spec.n_dependence, task=task,
    )  # fmt: skip
    return RunExplanation(
        oof=oof,
        final=shap_final,
        first=first,
        importance=importance,
        by_region=group_importance(first, regions.rename("region")),
        info={**asdict(spec), "method_used": method, "background": "none (tree_path_dependent)"},
        figures=figures,
    )
