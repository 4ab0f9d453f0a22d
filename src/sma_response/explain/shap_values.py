"""SHAP values of a fitted ``Pipeline(preprocess, model)``, summed per clinical concept.

One function, :func:`explain`, with explicit semantics (STYLE rule 14): exact TreeSHAP with
``feature_perturbation="tree_path_dependent"`` (no background sample, so no seed) on the raw
model output (log-odds for a classifier, the predicted value for a regressor). Values of the
preprocessed columns that encode one concept (one-hot levels, missing indicators) are summed
into that concept, so every row of the result is one clinical feature of one index event.
Additivity is checked for every row: base value + sum of SHAP values = raw margin.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
from sklearn.base import is_classifier
from sklearn.pipeline import Pipeline

from sma_response.explain.spec import EXPLAIN_METHODS, ExplainSpec
from sma_response.features.preprocess import concept_of

__all__ = [
    "SHAP_COLUMNS",
    "AdditivityError",
    "contributions",
    "explain",
    "format_values",
    "raw_margin",
    "resolve_method",
    "shap_matrix",
]

log = logging.getLogger(__name__)

SHAP_COLUMNS = ("index_id", "feature", "value", "shap", "base_value")


class AdditivityError(ValueError):
    """SHAP values do not add up to the model's raw output."""


def _is_xgboost(estimator: object) -> bool:
    return type(estimator).__module__.split(".")[0] == "xgboost"


#: Modules of the tree ensembles TreeSHAP explains exactly (xgboost, scikit-learn trees).
_TREE_MODULES = ("xgboost", "sklearn.ensemble", "sklearn.tree", "lightgbm", "catboost")


def _is_tree_model(estimator: object) -> bool:
    module = type(estimator).__module__
    return module.startswith(_TREE_MODULES)


def resolve_method(estimator: object, *, method: str) -> str:
    """Return the concrete method for ``estimator`` (``auto`` resolved).

    Raises
    ------
    ValueError
        If ``method`` is unknown, ``xgboost_native`` is asked of a non-xgboost model, or the
        model is not a tree ensemble (TreeSHAP explains only trees; e.g. the logistic baseline).

    Examples
    --------
    >>> from xgboost import XGBClassifier
    >>> resolve_method(XGBClassifier(), method="auto")
    'xgboost_native'
    """
    if method not in EXPLAIN_METHODS:
        msg = f"explain.method: unknown method {method!r}; expected one of {list(EXPLAIN_METHODS)}"
        raise ValueError(msg)
    if not _is_tree_model(estimator):
        msg = (
            f"explain: TreeSHAP explains tree ensembles only, not {type(estimator).__name__} "
            "(use model=xgboost or model=hist_gb for explained predictions and reports)"
        )
        raise ValueError(msg)
    if method == "auto":
        return "xgboost_native" if _is_xgboost(estimator) else "tree_explainer"
    if method == "xgboost_native" and not _is_xgboost(estimator):
        msg = (
            f"explain.method: 'xgboost_native' needs an xgboost model, got "
            f"{type(estimator).__name__}; use 'tree_explainer' or 'auto'"
        )
        raise ValueError(msg)
    return method


def _check_spec(spec: ExplainSpec) -> None:
    if spec.feature_perturbation != "tree_path_dependent":
        msg = (
            f"explain.feature_perturbation: only 'tree_path_dependent' is supported, "
            f"got {spec.feature_perturbation!r}"
        )
        raise ValueError(msg)
    if spec.model_output != "raw":
        msg = f"explain.model_output: only 'raw' is supported, got {spec.model_output!r}"
        raise ValueError(msg)


def raw_margin(model: Pipeline, Xt: pd.DataFrame) -> np.ndarray:
    """Return the raw output on preprocessed rows: log-odds (classifier) or prediction.

    Examples
    --------
    >>> from xgboost import XGBRegressor
    >>> X = pd.DataFrame({"x": [0.0, 1.0, 2.0, 3.0]})
    >>> m = Pipeline([("model", XGBRegressor(n_estimators=5).fit(X, [0, 1, 2, 3.0]))])
    >>> raw_margin(m, X).shape
    (4,)
    """
    estimator = model[-1]
    if _is_xgboost(estimator):
        return np.asarray(estimator.predict(Xt, output_margin=True), dtype=float)
    if is_classifier(estimator):
        return np.asarray(estimator.decision_function(Xt), dtype=float)
    return np.asarray(estimator.predict(Xt), dtype=float)


def _column_contributions(
    estimator: object, Xt: pd.DataFrame, *, method: str
) -> tuple[np.ndarray, np.ndarray]:
    """SHAP matrix over the preprocessed columns and the base value of every row."""
    if method == "xgboost_native":
        import xgboost as xgb

        matrix = xgb.DMatrix(Xt.astype(float), missing=np.nan)
        out = estimator.get_booster().predict(matrix, pred_contribs=True)  # type: ignore[attr-defined]
        return np.asarray(out[:, :-1], dtype=float), np.asarray(out[:, -1], dtype=float)
    import shap

    explainer = shap.TreeExplainer(
        estimator, feature_perturbation="tree_path_dependent", model_output="raw"
    )
    values = np.asarray(explainer.shap_values(Xt, check_additivity=False), dtype=float)
    if values.ndim == 3:  # (n, p, classes): keep the positive class
        values = values[:, :, -1]
    base = np.ravel(np.asarray(explainer.expected_value, dtype=float))[-1]
    return values, np.full(len(Xt), base)


def contributions(
    model: Pipeline, X: pd.DataFrame, *, spec: ExplainSpec
) -> tuple[pd.DataFrame, pd.Series]:
    """SHAP values summed per concept (wide) and the base value of every row.

    Parameters
    ----------
    model
        Fitted ``Pipeline([("preprocess", ...), ("model", tree ensemble)])``.
    X
        Feature frame (columns = concepts) indexed by ``index_id``.
    spec
        Method and semantics.

    Returns
    -------
    shap : pandas.DataFrame
        Same index and columns as ``X``: the SHAP value of each concept (raw-output units).
    base : pandas.Series
        Base value per row (the model's expected raw output).

    Raises
    ------
    AdditivityError
        If base + sum of SHAP values differs from the raw margin by more than
        ``spec.additivity_tolerance`` for any row.
    """
    _check_spec(spec)
    steps = list(model.named_steps)
    preprocess = model[:-1] if len(steps) > 1 else None
    estimator = model[-1]
    method = resolve_method(estimator, method=spec.method)
    Xt = preprocess.transform(X) if preprocess is not None else X
    Xt = pd.DataFrame(Xt, index=X.index)
    values, base = _column_contributions(estimator, Xt, method=method)
    margin = raw_margin(model, Xt)
    gap = np.abs(base + values.sum(axis=1) - margin)
    if len(gap) and float(gap.max()) > spec.additivity_tolerance:
        worst = int(np.argmax(gap))
        msg = (
            f"SHAP values do not add up to the model output: gap {gap[worst]:.3g} for row "
            f"{X.index[worst]!r} (explain.additivity_tolerance={spec.additivity_tolerance})"
        )
        raise AdditivityError(msg)
    concepts = [concept_of(c) for c in Xt.columns]
    unknown = sorted(set(concepts) - set(map(str, X.columns)))
    if unknown:
        msg = f"preprocessed columns map to no feature of X: {unknown}"
        raise ValueError(msg)
    wide = (
        pd.DataFrame(values, index=X.index, columns=Xt.columns)
        .T.groupby(np.asarray(concepts), sort=False)
        .sum()
        .T.reindex(columns=[str(c) for c in X.columns], fill_value=0.0)
    )
    log.info("explain: %d rows x %d concepts (%s)", len(X), wide.shape[1], method)
    return wide, pd.Series(base, index=X.index, name="base_value")


def format_values(X: pd.DataFrame) -> pd.DataFrame:
    """Return every cell's raw value as text (10 significant digits; missing: None).

    Examples
    --------
    >>> X = pd.DataFrame({"age": [8.25, np.nan], "sex": pd.Categorical(["F", None])})
    >>> format_values(X).to_dict("list")
    {'age': ['8.25', None], 'sex': ['F', None]}
    """
    out = {}
    for col in X.columns:
        s = X[col]
        if isinstance(s.dtype, pd.CategoricalDtype) or not pd.api.types.is_numeric_dtype(s):
            text = [None if pd.isna(v) else str(v) for v in s.astype(object)]
        else:
            text = [None if np.isnan(v) else f"{v:.10g}" for v in s.to_numpy(dtype=float)]
        out[str(col)] = pd.Series(text, index=X.index, dtype=object)
    return pd.DataFrame(out, index=X.index)


def explain(model: Pipeline, X: pd.DataFrame, *, spec: ExplainSpec) -> pd.DataFrame:
    """SHAP values of every row of ``X`` as a long, tidy table (schema ``ShapValues``).

    Parameters
    ----------
    model
        Fitted ``Pipeline([("preprocess", ...), ("model", tree ensemble)])``.
    X
        Feature frame indexed by ``index_id``.
    spec
        Method (``xgboost_native`` or ``tree_explainer``), ``tree_path_dependent``, ``raw``.

    Returns
    -------
    pandas.DataFrame
        ``index_id, feature, value, shap, base_value``: one row per index event and concept, in
        the order of ``X``; ``value`` is the patient's raw value as text (None when missing).
        For every ``index_id``, ``base_value + sum(shap)`` is the raw model output.

    Examples
    --------
    >>> from xgboost import XGBClassifier
    >>> from sma_response.models.fit import fit_final
    >>> X = pd.DataFrame({"age": [1.0, 2, 3, 4, 5, 6]}, index=[f"{i:016x}#1" for i in range(6)])
    >>> m = fit_final(X, pd.Series([0, 0, 0, 1, 1, 1], index=X.index),
    ...               estimator=XGBClassifier(n_estimators=3), preprocess_kind="tree")
    >>> out = explain(m, X, spec=ExplainSpec())
    >>> out.columns.tolist(), len(out)
    (['index_id', 'feature', 'value', 'shap', 'base_value'], 6)
    """
    wide, base = contributions(model, X, spec=spec)
    values = format_values(X)
    n, p = wide.shape
    return pd.DataFrame(
        {
            "index_id": np.repeat(X.index.astype(str).to_numpy(), p),
            "feature": np.tile(np.asarray(wide.columns, dtype=object), n),
            "value": values.to_numpy(dtype=object).reshape(-1),
            "shap": wide.to_numpy(dtype=float).reshape(-1),
            "base_value": np.repeat(base.to_numpy(dtype=float), p),
        }
    )


def shap_matrix(shap_values: pd.DataFrame) -> pd.DataFrame:
    """Wide SHAP matrix (``index_id`` x feature) from the long table, in first-seen order.

    Examples
    --------
    >>> long = pd.DataFrame({"index_id": ["a", "a"], "feature": ["x", "y"], "value": ["1", "2"],
    ...                      "shap": [0.5, -0.25], "base_value": [0.1, 0.1]})
    >>> shap_matrix(long).to_dict("index")
    {'a': {'x': 0.5, 'y': -0.25}}
    """
    features = list(dict.fromkeys(shap_values["feature"]))
    ids = list(dict.fromkeys(shap_values["index_id"]))
    wide = shap_values.pivot_table(
        index="index_id", columns="feature", values="shap", aggfunc="sum"
    )
    return wide.reindex(index=ids, columns=features)
