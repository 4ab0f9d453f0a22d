"""Typed settings of the explanation stage (plain, non-frozen dataclass: STYLE rule 8)."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["EXPLAIN_METHODS", "ExplainSpec"]

#: ``xgboost_native``: xgboost's own TreeSHAP (``pred_contribs``); ``tree_explainer``: shap's
#: ``TreeExplainer`` (any tree ensemble shap supports); ``auto``: the first for xgboost models,
#: the second otherwise. Both compute the same exact path-dependent TreeSHAP values.
EXPLAIN_METHODS = ("auto", "xgboost_native", "tree_explainer")


@dataclass
class ExplainSpec:
    """How predictions are explained with SHAP.

    Attributes
    ----------
    enabled
        Compute SHAP values, plots and example reports in the training run.
    method
        One of :data:`EXPLAIN_METHODS`.
    feature_perturbation
        ``tree_path_dependent``: exact TreeSHAP that follows the trees' own cover statistics,
        so no background sample (and no seed) is needed. The only value supported.
    model_output
        ``raw``: values explain the model's margin (log-odds for a classifier, the predicted
        value for a regressor). The only value supported.
    additivity_tolerance
        Largest allowed gap between base value + sum of SHAP values and the raw margin.
    n_top
        Features shown in the global bar and beeswarm plots.
    n_dependence
        Top features that get a dependence plot.
    """

    enabled: bool = True
    method: str = "auto"
    feature_perturbation: str = "tree_path_dependent"
    model_output: str = "raw"
    additivity_tolerance: float = 1e-4
    n_top: int = 12
    n_dependence: int = 4
