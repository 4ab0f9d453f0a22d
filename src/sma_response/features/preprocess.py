"""Preprocessing fitted inside the model pipeline: encoding, imputation, scaling.

Output columns are named ``<concept>`` (a numeric feature as is), ``<concept>__<level>`` (one
level of a categorical) or ``<concept>__missing`` (a missing-value indicator), so that
:func:`concept_of` maps every model input back to its clinical concept, e.g. to sum SHAP values
per concept.
"""

from __future__ import annotations

import logging

import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

__all__ = ["CONCEPT_SEPARATOR", "PREPROCESS_KINDS", "concept_of", "make_preprocessor"]

log = logging.getLogger(__name__)

PREPROCESS_KINDS = ("tree", "linear")
#: Separates the concept from a level or from ``missing`` in preprocessed feature names.
CONCEPT_SEPARATOR = "__"
_MISSING_PREFIX = "missingindicator_"  # what SimpleImputer(add_indicator=True) names indicators


def _level_name(feature: str, category: object) -> str:
    """One-hot column name ``<feature>__<level>`` (module-level so pipelines pickle)."""
    return f"{feature}{CONCEPT_SEPARATOR}{category}"


def _output_name(transformer_name: str, feature_name: str) -> str:
    """Drop the transformer prefix; rename missing indicators to ``<feature>__missing``."""
    del transformer_name  # names are unique without it
    if feature_name.startswith(_MISSING_PREFIX):
        return f"{feature_name[len(_MISSING_PREFIX) :]}{CONCEPT_SEPARATOR}missing"
    return feature_name


def _is_categorical(dtype: object) -> bool:
    return (
        isinstance(dtype, pd.CategoricalDtype)
        or pd.api.types.is_string_dtype(dtype)
        or (pd.api.types.is_object_dtype(dtype))
    )


def make_preprocessor(feature_frame_dtypes: pd.Series, *, kind: str) -> ColumnTransformer:
    """Build an unfitted preprocessor for a feature frame with these column dtypes.

    Parameters
    ----------
    feature_frame_dtypes
        ``X.dtypes`` of the feature frame (column name -> dtype). Categorical, string and
        object columns are one-hot encoded; every other column is numeric.
    kind
        ``tree``: one-hot categoricals (unknown levels ignored), numerics passed through with
        their NaN (xgboost and HistGradientBoosting handle missing values natively).
        ``linear``: one-hot categoricals; numerics median-imputed with missing indicators, then
        standardised (the logistic-regression baseline).

    Returns
    -------
    sklearn.compose.ColumnTransformer
        With ``set_output(transform="pandas")``; output names follow :func:`concept_of`.
        A categorical dtype fixes the one-hot levels, so every fold yields the same columns.

    Raises
    ------
    ValueError
        If ``kind`` is unknown.

    Examples
    --------
    >>> X = pd.DataFrame({"age": [1.0, None, 3.0],
    ...                   "sex": pd.Categorical(["F", "M", "F"], categories=["F", "M"])})
    >>> make_preprocessor(X.dtypes, kind="linear").fit_transform(X).columns.tolist()
    ['sex__F', 'sex__M', 'age', 'age__missing']
    """
    if kind not in PREPROCESS_KINDS:
        msg = f"preprocess_kind: unknown kind {kind!r}; expected one of {list(PREPROCESS_KINDS)}"
        raise ValueError(msg)
    dtypes = pd.Series(feature_frame_dtypes)
    categorical = [str(c) for c, d in dtypes.items() if _is_categorical(d)]
    numeric = [str(c) for c, d in dtypes.items() if not _is_categorical(d)]
    bad = [c for c in dtypes.index if CONCEPT_SEPARATOR in str(c)]
    if bad:
        msg = f"feature names must not contain {CONCEPT_SEPARATOR!r}: {bad}"
        raise ValueError(msg)
    levels = [
        list(dtypes[c].categories) if isinstance(dtypes[c], pd.CategoricalDtype) else "auto"
        for c in categorical
    ]
    encoder = OneHotEncoder(
        categories=levels if all(lv != "auto" for lv in levels) else "auto",
        handle_unknown="ignore",
        sparse_output=False,
        feature_name_combiner=_level_name,
    )
    if kind == "tree":
        numeric_step: object = "passthrough"
    else:
        numeric_step = Pipeline(
            [
                (
                    "impute",
                    SimpleImputer(strategy="median", add_indicator=True, keep_empty_features=True),
                ),
                ("scale", StandardScaler()),
            ]
        )
    transformers = []
    if categorical:
        transformers.append(("categorical", encoder, categorical))
    if numeric:
        transformers.append(("numeric", numeric_step, numeric))
    preprocessor = ColumnTransformer(
        transformers, remainder="drop", verbose_feature_names_out=_output_name
    )
    return preprocessor.set_output(transform="pandas")


def concept_of(feature_name: str) -> str:
    """Return the clinical concept (feature-frame column) behind a preprocessed feature name.

    Examples
    --------
    >>> [concept_of(n) for n in ("sma_type__3a", "baseline_hfmse__missing", "line")]
    ['sma_type', 'baseline_hfmse', 'line']
    """
    return str(feature_name).split(CONCEPT_SEPARATOR, 1)[0]
