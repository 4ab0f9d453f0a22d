"""The report's therapy options: one set of numbers per patient, guarded by label and support.

Two rules keep what a report shows consistent and supportable:

1. :func:`reconcile`: the headline chance of a meaningful gain (the run's model) and the
   expected change (the change model) never fall on opposite sides of the meaningful-change
   threshold. Where the two models disagree, the expected change and its range move to the
   threshold (the smallest move that removes the contradiction) and the row says so
   (``reconciled``); :func:`agreement_metrics` counts both.
2. :func:`therapy_option_rows`: each therapy's chance and expected change are the patient's
   own (current therapy) plus the per-therapy contrasts of the effects stage
   (:mod:`sma_response.effects`), with their intervals. A therapy the label does not allow is
   "not an option" with the rule; one outside common support, or without a contrast, is "not
   estimable" with the reason: neither ever carries a number.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from sma_response.cohort.spec import MEANINGFUL_CHANGE
from sma_response.effects import ARMS, EffectsResult
from sma_response.features.labels import LEVEL_LABELS
from sma_response.report.i18n import N_, gettext

__all__ = [
    "OPTION_COLUMNS",
    "OPTION_STATUSES",
    "agreement_metrics",
    "disagreements",
    "meaningful_change",
    "reason_text",
    "reconcile",
    "therapy_option_rows",
]

#: What a therapy option row can be.
OPTION_STATUSES = ("current", "estimated", "not_estimable", "not_an_option")
#: Why an option has no number (``reason_key``; ``label``: the label rule's own words).
REASONS = {
    "outside_support": N_(
        "few patients like this one started %(therapy)s or %(current)s in this registry "
        "(outside common support)"
    ),
    "too_few": N_("too few patients started it to estimate a difference"),
    "no_effects": N_(
        "this run did not estimate per-therapy differences (effects.enabled=true, responder target)"
    ),
    "new_patient": N_(
        "per-therapy differences are estimated for the training run's own cohort, not for a "
        "new patient scored later"
    ),
}
#: Columns of :func:`therapy_option_rows` (``report/alternatives.parquet``).
OPTION_COLUMNS = [
    "index_id", "therapy", "status", "reason", "reason_key",
    "probability", "probability_lower", "probability_upper",
    "expected_change", "change_lower", "change_upper",
    "diff_probability", "diff_probability_lower", "diff_probability_upper",
    "diff_change", "diff_change_lower", "diff_change_upper",
]  # fmt: skip
#: A change is shown to one decimal: below the threshold means at least this much below.
_SHOWN_STEP = 0.1


def meaningful_change(scales: pd.Series) -> np.ndarray:
    """Return the meaningful-change threshold of each row's outcome scale (NaN when unknown).

    Examples
    --------
    >>> meaningful_change(pd.Series(["hfmse", "milestones", None])).tolist()
    [3.0, 1.0, nan]
    """
    table = {**MEANINGFUL_CHANGE, "milestones": 1.0}
    return np.array([table.get(s, np.nan) if s else np.nan for s in scales], dtype=float)


def _opposite(probability: np.ndarray, change: np.ndarray, threshold: np.ndarray) -> np.ndarray:
    known = np.isfinite(probability) & np.isfinite(change) & np.isfinite(threshold)
    return known & ((probability >= 0.5) != (change >= threshold - 1e-9))


def disagreements(frame: pd.DataFrame, scales: pd.Series | None = None) -> int:
    """Count rows whose chance and expected change fall on opposite sides of the threshold.

    A chance of 50% or more says "a gain is more likely than not"; an expected change below
    the meaningful-change threshold says the opposite.

    Examples
    --------
    >>> f = pd.DataFrame({"probability": [0.33, 0.7, 0.2], "expected_change": [4.0, 5.0, 1.0],
    ...                   "scale": "chop_intend"})
    >>> disagreements(f)
    1
    """
    scale = frame["scale"] if scales is None else scales
    return int(
        _opposite(
            frame["probability"].to_numpy(dtype=float),
            frame["expected_change"].to_numpy(dtype=float),
            meaningful_change(scale),
        ).sum()
    )


def reconcile(frame: pd.DataFrame, scales: pd.Series | None = None) -> pd.DataFrame:
    """Move each contradicting expected change (and its range) to the threshold.

    Parameters
    ----------
    frame
        ``probability, expected_change`` and optionally ``lower, upper`` (change range); with a
        ``scale`` column unless ``scales`` is given (same order).
    scales
        Outcome scale of each row.

    Returns
    -------
    pandas.DataFrame
        A copy, with ``reconciled`` (the row was moved) and ``reconciled_shift`` (by how much,
        signed). A chance of 50% or more moves the change up to the threshold; a lower chance
        moves it to just below (one shown decimal).

    Examples
    --------
    >>> f = pd.DataFrame({"probability": [0.33, 0.7], "expected_change": [4.0, 5.0],
    ...                   "lower": [0.0, 1.0], "upper": [8.0, 9.0], "scale": "chop_intend"})
    >>> out = reconcile(f)
    >>> out[["expected_change", "lower", "upper", "reconciled"]].round(1).values.tolist()
    [[3.9, -0.1, 7.9, True], [5.0, 1.0, 9.0, False]]
    """
    out = frame.copy()
    threshold = meaningful_change(out["scale"] if scales is None else scales)
    probability = out["probability"].to_numpy(dtype=float)
    change = out["expected_change"].to_numpy(dtype=float)
    moved = _opposite(probability, change, threshold)
    target = np.where(probability >= 0.5, threshold, threshold - _SHOWN_STEP)
    shift = np.where(moved, target - change, 0.0)
    for column in ("expected_change", "lower", "upper"):
        if column in out:
            out[column] = out[column].to_numpy(dtype=float) + shift
    out["reconciled"] = moved
    out["reconciled_shift"] = shift  # how far the change moved (0 where it did not)
    return out


def agreement_metrics(patients: pd.DataFrame, options: pd.DataFrame) -> dict[str, float]:
    """Return ``report/disagreements`` (must be 0) and how much reconciling moved.

    ``disagreements`` counts what the reports show, headline and every option row;
    ``reconciled`` counts the headlines whose expected change had to move, and
    ``reconciled_median_shift`` / ``reconciled_max_shift`` say by how many points (absolute).
    """
    scales = patients.set_index("index_id")["scale"]
    shown = options.loc[options["status"] == "estimated"]
    moved = patients.get("reconciled", pd.Series(dtype=bool)).astype(bool)
    metrics = {
        "report/disagreements": float(
            disagreements(patients)
            + disagreements(shown, scales.reindex(shown["index_id"]).reset_index(drop=True))
        ),
        "report/reconciled": float(moved.sum()),
    }
    if moved.any() and "reconciled_shift" in patients:
        shift = patients.loc[moved, "reconciled_shift"].abs()
        metrics["report/reconciled_median_shift"] = float(shift.median())
        metrics["report/reconciled_max_shift"] = float(shift.max())
    return metrics


def _label(therapy: str) -> str:
    return LEVEL_LABELS["therapy"].get(therapy, therapy)


def reason_text(key: str, therapy: str, current: str, rule: str = "") -> str:
    """Say why an option has no number, in the report's language (the rule: as configured).

    Examples
    --------
    >>> reason_text("outside_support", "onasemnogene", "nusinersen")[:43]
    'few patients like this one started onasemno'
    """
    if key not in REASONS:
        return rule
    return gettext(REASONS[key]) % {"therapy": _label(therapy), "current": _label(current)}


def _contrast(
    effects: EffectsResult, ids: pd.Index, outcome: str, arm: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return estimate, half-width and support of ``arm`` vs the reference per patient."""
    reference = effects.spec.reference
    if arm == reference:
        zeros = np.zeros(len(ids))
        return zeros, zeros, np.ones(len(ids), dtype=bool)
    est = effects.support_estimates
    rows = est.loc[(est["outcome"] == outcome) & (est["contrast"] == f"{arm}_vs_{reference}")]
    rows = rows.set_index("index_id").reindex(ids)
    point = rows["estimate"].to_numpy(dtype=float)
    half = (rows["upper"].to_numpy(dtype=float) - rows["lower"].to_numpy(dtype=float)) / 2
    return point, half, rows["in_support"].fillna(value=False).to_numpy(dtype=bool)


def _difference(
    effects: EffectsResult, ids: pd.Index, outcome: str, option: str, current: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Contrast ``option`` vs each patient's current therapy: estimate, half-width, support.

    Against the reference it is the learner's own contrast; between two other therapies it is
    the difference of their contrasts, with half-widths combined in quadrature (the two fits
    share the reference patients, so this is, if anything, wide).
    """
    point_o, half_o, ok_o = _contrast(effects, ids, outcome, option)
    point = np.full(len(ids), np.nan)
    half = np.full(len(ids), np.nan)
    ok = np.zeros(len(ids), dtype=bool)
    for therapy in np.unique(current):
        rows = current == therapy
        point_c, half_c, ok_c = _contrast(effects, ids[rows], outcome, str(therapy))
        point[rows] = point_o[rows] - point_c
        half[rows] = np.hypot(half_o[rows], half_c)
        ok[rows] = ok_o[rows] & ok_c
    return point, half, ok


def _fill(
    frame: pd.DataFrame,
    rows: np.ndarray,
    name: str,
    own: np.ndarray,
    diff: np.ndarray,
    half: np.ndarray,
) -> None:
    """Write an option's difference (with interval) and its value (own + difference)."""
    lo, hi = diff - half, diff + half
    frame.loc[rows, f"diff_{name}"] = diff[rows]
    frame.loc[rows, f"diff_{name}_lower"] = lo[rows]
    frame.loc[rows, f"diff_{name}_upper"] = hi[rows]
    if name == "probability":
        value = np.clip(own + diff, 0.0, 1.0)
        frame.loc[rows, "probability_lower"] = np.clip(own + lo, 0.0, 1.0)[rows]
        frame.loc[rows, "probability_upper"] = np.clip(own + hi, 0.0, 1.0)[rows]
        frame.loc[rows, "probability"] = value[rows]
    else:
        frame.loc[rows, "expected_change"] = (own + diff)[rows]


def therapy_option_rows(
    patients: pd.DataFrame,
    current: pd.Series,
    effects: EffectsResult | None,
    *,
    unavailable: str,
) -> pd.DataFrame:
    """Each patient's chance and expected change under every therapy, guarded (pure).

    Parameters
    ----------
    patients
        Report rows (``index_id, scale, probability, expected_change, lower, upper``), already
        :func:`reconcile`-d.
    current
        Each index event's therapy (indexed by ``index_id``).
    effects
        The run's effects stage (``None``: no contrasts; every other option is "not estimable"
        for the reason ``unavailable``).
    unavailable
        Why there are no contrasts when ``effects`` is ``None`` (a key of :data:`REASONS`).

    Returns
    -------
    pandas.DataFrame
        :data:`OPTION_COLUMNS`, one row per index event and therapy of :data:`ARMS`. Intervals
        are the effects stage's (``effects.spec.interval_level``); the change range is the
        patient's own predictive range moved by the contrast.
    """
    ids = pd.Index(patients["index_id"].astype(str))
    base = patients.set_index(ids)
    now = current.reindex(ids).astype(str).to_numpy()
    p0 = base["probability"].to_numpy(dtype=float)
    parts = []
    for option in ARMS:
        frame = pd.DataFrame(index=ids, columns=OPTION_COLUMNS[1:], dtype=float)
        frame["therapy"], frame["reason"], frame["reason_key"] = option, "", ""
        status = np.where(now == option, "current", "not_estimable").astype(object)
        frame.loc[status == "current", ["probability", "expected_change", "change_lower",
                                        "change_upper"]] = base.loc[
            status == "current", ["probability", "expected_change", "lower", "upper"]
        ].to_numpy(dtype=float)  # fmt: skip
        if effects is None:
            if unavailable not in REASONS:
                msg = f"unavailable: {unavailable!r} is not a key of REASONS"
                raise ValueError(msg)
            frame["reason_key"] = np.where(status == "current", "", unavailable)
        else:
            allowed = effects.eligibility.reindex(ids)[option].fillna(value=True).to_numpy(bool)
            rule = effects.rules.reindex(ids)[option].fillna("").to_numpy(dtype=object)
            d_p, h_p, ok_p = _difference(effects, ids, "response", option, now)
            d_c, h_c, ok_c = _difference(effects, ids, "change", option, now)
            shown = (status != "current") & np.isfinite(d_p) & np.isfinite(d_c)
            status = np.where(shown, "estimated", status)
            status = np.where((status != "current") & ~allowed, "not_an_option", status)
            outside = ~(ok_p & ok_c)
            frame["reason_key"] = np.select(
                [status == "not_an_option", (status == "not_estimable") & outside,
                 status == "not_estimable"],
                ["label", "outside_support", "too_few"], default="",
            )  # fmt: skip
            frame["reason"] = np.where(status == "not_an_option", rule, "")
            est = status == "estimated"
            _fill(frame, est, "probability", p0, d_p, h_p)
            _fill(frame, est, "change", base["expected_change"].to_numpy(float), d_c, h_c)
            # the change's range: the patient's own predictive range, moved by the difference
            for column, source in (("change_lower", "lower"), ("change_upper", "upper")):
                frame.loc[est, column] = base.loc[est, source].to_numpy(float) + d_c[est]
        frame["status"] = status
        frame["reason"] = [
            reason_text(k, option, c, str(why))
            for k, c, why in zip(frame["reason_key"], now, frame["reason"], strict=True)
        ]
        parts.append(frame.rename_axis("index_id").reset_index())
    out = pd.concat(parts, ignore_index=True)[OPTION_COLUMNS]
    # An option's chance and change must not contradict each other either.
    moved = reconcile(
        out.rename(columns={"change_lower": "lower", "change_upper": "upper"}),
        base["scale"].reindex(out["index_id"]).reset_index(drop=True),
    )
    estimated = out["status"] == "estimated"
    for column, source in (("expected_change", "expected_change"), ("change_lower", "lower"),
                           ("change_upper", "upper")):  # fmt: skip
        out.loc[estimated, column] = moved.loc[estimated, source]
    return out.sort_values("index_id", kind="stable", ignore_index=True)  # ARMS order within
