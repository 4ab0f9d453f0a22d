"""Which therapies each patient's label allows (region-specific rules from config)."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from sma_response.effects.spec import ARMS, EligibilityRule

__all__ = ["coerce_rules", "eligible_options"]


def coerce_rules(
    rules: Mapping[str, Mapping[str, object]],
) -> dict[str, dict[str, EligibilityRule]]:
    """Return ``region -> therapy -> rule`` with every rule an :class:`EligibilityRule`.

    Raises
    ------
    ValueError
        Naming the region and therapy of an unknown therapy or rule key.

    Examples
    --------
    >>> coerce_rules({"US": {"onasemnogene": {"max_age_months": 24}}})["US"]["onasemnogene"]
    ... # doctest: +NORMALIZE_WHITESPACE
    EligibilityRule(min_age_months=None, max_age_months=24, max_smn2_copies=None,
    or_sma_types=[], label='')
    >>> coerce_rules({"US": {"onasemnogene": {"max_weight": 21}}})
    ... # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: effects.eligibility.US.onasemnogene: unknown rule key ['max_weight']; expected ...
    """
    known = sorted(EligibilityRule.__dataclass_fields__)
    out: dict[str, dict[str, EligibilityRule]] = {}
    for region, table in rules.items():
        out[str(region)] = {}
        for therapy, rule in table.items():
            where = f"effects.eligibility.{region}.{therapy}"
            if therapy not in ARMS:
                msg = f"{where}: unknown therapy; expected one of {list(ARMS)}"
                raise ValueError(msg)
            if isinstance(rule, EligibilityRule):
                out[str(region)][str(therapy)] = rule
                continue
            if not isinstance(rule, Mapping):
                msg = f"{where}: expected a mapping of rule keys, got {rule!r}"
                raise ValueError(msg)
            unknown = sorted(set(map(str, rule)) - set(known))
            if unknown:
                msg = f"{where}: unknown rule key {unknown}; expected {known}"
                raise ValueError(msg)
            kwargs = {str(k): v for k, v in rule.items()}
            if "or_sma_types" in kwargs:
                kwargs["or_sma_types"] = [str(t) for t in kwargs["or_sma_types"]]
            out[str(region)][str(therapy)] = EligibilityRule(**kwargs)
    return out


def _allowed(frame: pd.DataFrame, rule: EligibilityRule) -> np.ndarray:
    age = frame["age_at_index_months"].to_numpy(dtype=float)
    ok = np.ones(len(frame), dtype=bool)
    if rule.min_age_months is not None:
        ok &= age >= rule.min_age_months
    if rule.max_age_months is not None:
        ok &= age <= rule.max_age_months
    if rule.max_smn2_copies is not None:
        copies = frame["smn2_copies"].to_numpy(dtype=float)
        by_copies = copies <= rule.max_smn2_copies  # NaN (unknown copies) -> False
        by_type = frame["sma_type"].astype(str).isin(rule.or_sma_types).to_numpy()
        ok &= by_copies | by_type
    return ok


def eligible_options(
    features: pd.DataFrame,
    regions: pd.Series,
    rules: Mapping[str, Mapping[str, object]],
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Return, per index event and therapy, whether the label allows it, and the rule's words.

    Parameters
    ----------
    features
        ``age_at_index_months, smn2_copies, sma_type``, indexed by ``index_id``.
    regions
        Region of each index event (same index).
    rules
        ``region -> therapy -> rule``; ``default`` applies to regions not listed; a therapy
        without a rule is allowed.

    Returns
    -------
    (pandas.DataFrame, pandas.DataFrame)
        Booleans and rule texts, one column per therapy of :data:`ARMS`.

    Examples
    --------
    >>> X = pd.DataFrame({"age_at_index_months": [10.0, 40.0], "smn2_copies": [2.0, 3.0],
    ...                   "sma_type": ["1", "2"]}, index=["a", "b"])
    >>> rule = EligibilityRule(max_age_months=24, label="under 2 years")
    >>> ok, why = eligible_options(X, pd.Series(["US", "US"], index=["a", "b"]),
    ...                            {"default": {"onasemnogene": rule}})
    >>> ok["onasemnogene"].tolist(), why.loc["b", "onasemnogene"]
    ([True, False], 'under 2 years')
    """
    table_of = coerce_rules(rules)
    regions = regions.reindex(features.index).astype(str)
    ok = pd.DataFrame(np.ones((len(features), len(ARMS)), dtype=bool), index=features.index,
                      columns=list(ARMS))  # fmt: skip
    why = pd.DataFrame("", index=features.index, columns=list(ARMS))
    for region, rows in regions.groupby(regions, sort=True):
        table = table_of.get(str(region), table_of.get("default", {}))
        part = features.loc[rows.index]
        for therapy in ARMS:
            rule = table.get(therapy)
            if rule is None:
                continue
            ok.loc[rows.index, therapy] = _allowed(part, rule)
            why.loc[rows.index, therapy] = rule.label or f"{therapy}: outside its label"
    return ok, why.where(~ok, "")
