"""Comparing a logged run with now: configs, packages, code, metrics and logged tables.

What ``sma-reproduce`` reports is built here, one :class:`Check` per comparison, gathered in a
:class:`ReproductionReport`. Every difference is named (key, package, metric, column), never
just counted.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sma_response.tracking.lookup import add_run_files, download_run_file, get_run, set_run_tags
from sma_response.tracking.provenance import (
    KEY_PACKAGES,
    compare_fingerprints,
    git_dirty,
    git_sha,
    installed_requirements,
    package_versions,
)
from sma_response.tracking.spec import TrackingSpec

__all__ = [
    "HEADLINE_METRICS",
    "LOCATION_KEYS",
    "METRIC_DIFFERENCES_FILE",
    "Check",
    "ReproductionReport",
    "capped",
    "compare_logged_file",
    "compare_metrics",
    "compare_tables",
    "config_check",
    "data_check",
    "diff_configs",
    "first_line",
    "git_checks",
    "metric_differences",
    "packages_check",
    "relocate_config",
    "result_checks",
    "tag_reproduction",
]

#: Config keys that say where things are on this machine, not what the run computes.
LOCATION_KEYS = (
    "paths.",
    "tracking.",
    "harmonise.paths.",
    "harmonise.raw_dir",
    "harmonise.out_dir",
    "harmonise.registry_dir",
    "harmonise.pseudonym_key_file",
    "harmonise.progress",
    "progress",
)
_MAX_DETAILS = 12
#: Lines a differing file gets in the table (the row count and the first columns).
_MAX_FILE_LINES = 4


@dataclass
class Check:
    """One comparison between the logged run and now.

    Attributes
    ----------
    name
        What is compared (``config``, ``data``, ``packages``, ``metrics``, a file path ...).
    status
        ``same``, ``differs``, or ``skipped`` (could not be checked; ``details`` says why).
    logged, current
        Short summaries of the two sides.
    details
        One line per difference (key, table, package, metric ...), or the reason for a skip.
    """

    name: str
    status: str
    logged: str = ""
    current: str = ""
    details: list[str] = field(default_factory=list)

    @property
    def differs(self) -> bool:
        """Whether this check found a difference."""
        return self.status == "differs"


@dataclass
class ReproductionReport:
    """Outcome of :func:`reproduce_run`.

    Attributes
    ----------
    run_id
        The original run.
    new_run_id
        The reproduction's run (``None`` when only the environment was checked).
    status
        ``identical`` (everything checked matches, results bit for bit), ``different``, or
        ``consistent`` (environment checks only, all matching; nothing re-run).
    checks
        Every comparison, environment first, then results.
    notes
        What was done on the way (folders moved, data rebuilt, where the new run went).
    tracking_uri
        Store of both runs.
    wall_seconds
        Duration.
    """

    run_id: str
    new_run_id: str | None
    status: str
    checks: list[Check]
    notes: list[str]
    tracking_uri: str
    wall_seconds: float

    @staticmethod
    def status_of(checks: Sequence[Check], *, rerun: bool) -> str:
        """``different`` with any difference, else ``identical`` (re-run) or ``consistent``.

        Examples
        --------
        >>> ReproductionReport.status_of([Check("seed", "same")], rerun=False)
        'consistent'
        """
        if any(c.differs for c in checks):
            return "different"
        return "identical" if rerun else "consistent"

    @property
    def identical(self) -> bool:
        """Whether the run was reproduced bit for bit."""
        return self.status == "identical"

    @property
    def differences(self) -> list[Check]:
        """The checks that found a difference."""
        return [c for c in self.checks if c.differs]

    @property
    def results_identical(self) -> bool | None:
        """Whether metrics and compared files are identical (``None`` when nothing was re-run)."""
        results = [c for c in self.checks if c.name == "metrics" or "/" in c.name]
        if self.new_run_id is None or not results:
            return None
        return not any(c.differs for c in results)

    def summary(self) -> str:
        """One line for the terminal and the run tag."""
        if self.status == "identical":
            return f"reproduced bit-for-bit: run {self.new_run_id} is identical to {self.run_id}"
        if self.status == "consistent":
            return f"environment matches run {self.run_id} (results not re-computed: rerun=false)"
        names = ", ".join(c.name for c in self.differences)
        if self.results_identical:
            return f"results identical, but the setup differs from run {self.run_id}: {names}"
        return f"not reproduced: differences in {names}"

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able dict (logged as ``reproduction/report.json``)."""
        out = asdict(self)
        out["summary"] = self.summary()
        out["results_identical"] = self.results_identical
        return out


def _flatten(node: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(node, Mapping):
        out: dict[str, Any] = {}
        for key, value in node.items():
            out.update(_flatten(value, f"{prefix}{key}."))
        if not node and prefix:
            out[prefix[:-1]] = {}
        return out
    return {prefix[:-1]: node}


def _is_location(key: str) -> bool:
    return any(key.startswith(k) if k.endswith(".") else key == k for k in LOCATION_KEYS)


def first_line(err: BaseException) -> str:
    """Return the first line of an error's message (its type when it has none)."""
    return str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__


def _show(value: Any) -> str:
    text = json.dumps(value, default=str) if not isinstance(value, str) else value
    return text if len(text) <= 60 else text[:57] + "..."


def capped(details: list[str]) -> list[str]:
    """Return the first details of a long list, with a line saying how many more there are.

    Examples
    --------
    >>> capped([str(i) for i in range(14)])[-2:]
    ['11', '... 2 more']
    """
    if len(details) <= _MAX_DETAILS:
        return details
    return [*details[:_MAX_DETAILS], f"... {len(details) - _MAX_DETAILS} more"]


def diff_configs(logged: Mapping[str, Any], current: Mapping[str, Any]) -> list[str]:
    """Name every config key whose value differs, ignoring where things are on this machine.

    Examples
    --------
    >>> diff_configs({"seed": 0, "paths": {"data_dir": "/a"}, "model": {"depth": 6}},
    ...              {"seed": 0, "paths": {"data_dir": "/b"}, "model": {"depth": 4}})
    ['model.depth: 6 logged, 4 now']
    """
    old = {k: v for k, v in _flatten(logged).items() if not _is_location(k)}
    new = {k: v for k, v in _flatten(current).items() if not _is_location(k)}
    out = []
    for key in sorted(set(old) | set(new)):
        if key not in new:
            out.append(f"{key}: {_show(old[key])} logged, absent now")
        elif key not in old:
            out.append(f"{key}: absent in the logged config, {_show(new[key])} now")
        elif old[key] != new[key]:
            out.append(f"{key}: {_show(old[key])} logged, {_show(new[key])} now")
    return out


def config_check(
    logged: Mapping[str, Any], rerun: Mapping[str, Any], changes: Sequence[str]
) -> Check:
    """Compare the re-run's config (the logged one with ``changes``) against the logged one."""
    diffs = diff_configs(logged, rerun)
    return Check(
        name="config",
        status="differs" if diffs else "same",
        logged="config/config.yaml",
        current=f"logged config + {len(changes)} change(s)" if changes else "logged config",
        details=capped(diffs),
    )


def _rebase(path: str, old_root: str, new_root: str) -> str:
    p, o = Path(path), Path(old_root)
    try:
        return str(Path(new_root) / p.relative_to(o))
    except ValueError:
        return path


def relocate_config(
    logged: Mapping[str, Any],
    *,
    root_dir: str,
    data_dir: str | None = None,
    output_root: str | None = None,
) -> tuple[dict[str, Any], list[str]]:
    """Point a logged config's folders at this checkout (and at new data/output folders).

    Every string under the logged ``paths.data_dir``, ``paths.output_root`` or
    ``paths.root_dir`` is rewritten to the new folder. Folders inside the old checkout move
    with it unless given explicitly.

    Returns
    -------
    tuple
        The relocated config and one note per folder that moved.

    Examples
    --------
    >>> cfg = {"paths": {"root_dir": "/old", "data_dir": "/old/data", "output_root": "/old/out"},
    ...        "harmonise": {"raw_dir": "/old/data/raw/x"}}
    >>> new, notes = relocate_config(cfg, root_dir="/new", data_dir="/scratch/d")
    >>> new["harmonise"]["raw_dir"], new["paths"]["output_root"]
    ('/scratch/d/raw/x', '/new/out')
    """
    paths = dict(logged.get("paths", {}))
    old_root = str(paths.get("root_dir", root_dir))
    moves = {
        "data_dir": data_dir or _rebase(str(paths.get("data_dir", "")), old_root, root_dir),
        "output_root": output_root
        or _rebase(str(paths.get("output_root", "")), old_root, root_dir),
        "root_dir": root_dir,
    }
    pairs = [
        (str(paths[k]), str(v)) for k, v in moves.items() if k in paths and str(paths[k]) != str(v)
    ]
    pairs.sort(key=lambda pair: -len(pair[0]))  # the longest (most specific) prefix first
    notes = [
        f"paths.{k}: {paths[k]} (logged) -> {v}"
        for k, v in moves.items()
        if k in paths and str(paths[k]) != str(v)
    ]

    def move(value: Any) -> Any:
        if isinstance(value, Mapping):
            return {k: move(v) for k, v in value.items()}
        if isinstance(value, list):
            return [move(v) for v in value]
        if isinstance(value, str):
            for old, new in pairs:
                if (
                    value == old
                    or value.startswith(old.rstrip("/") + "/")
                    or value.startswith(f"sqlite:///{old}")
                ):
                    return value.replace(old, new, 1)
        return value

    return move(dict(logged)), notes


def data_check(
    logged_digest: str,
    fingerprint: Mapping[str, Any] | None,
    current: Mapping[str, Any],
    where: Path,
) -> Check:
    """Compare the CDM digest a run logged with the data at ``where`` now (table by table).

    ``fingerprint`` is the run's logged per-table fingerprint (``None`` for older runs);
    ``current`` the fingerprint of the data now.
    """
    details: list[str] = []
    if current["digest"] != logged_digest:
        details = compare_fingerprints(fingerprint, current) if fingerprint else []
        details = details or [
            "CDM digest differs (no per-table fingerprint logged, or only the pseudonym "
            "key changed)"
        ]
        details.append(f"read from {where}")
    return Check(
        name="data",
        status="differs" if details else "same",
        logged=logged_digest[:16],
        current=str(current["digest"])[:16],
        details=details,
    )


def packages_check(logged: Mapping[str, str] | None, versions_txt: str | None) -> Check:
    """Compare the logged key package versions with those installed now.

    Other installed distributions that differ are mentioned but not counted.
    """
    if not logged:
        return Check(
            name="packages",
            status="skipped",
            details=["the run logged no environment/key_packages.json"],
        )
    now = package_versions(sorted(set(logged) | set(KEY_PACKAGES)))
    details = [
        f"{p}: {logged.get(p, 'not logged')} logged, {now[p]} now"
        for p in sorted(now)
        if logged.get(p, "not logged") != now[p] and p in logged
    ]
    others = []
    if versions_txt:
        old_all = {
            line.split("==")[0].lower(): line for line in versions_txt.splitlines() if "==" in line
        }
        new_all = {line.split("==")[0].lower(): line for line in installed_requirements()}
        keys = {p.lower() for p in logged}
        others = sorted(
            k
            for k in set(old_all) | set(new_all)
            if k not in keys and old_all.get(k) != new_all.get(k)
        )
    if others:  # reported, not counted: the key packages decide the result
        details.append(
            f"(other installed distributions differ too: {', '.join(others[:8])}"
            f"{' ...' if len(others) > 8 else ''})"
        )
    n_key = len([d for d in details if not d.startswith("(")])
    return Check(
        name="packages",
        status="differs" if n_key else "same",
        logged=f"{len(logged)} key packages",
        current="installed now",
        details=details,
    )


def git_checks(tags: Mapping[str, str], root: Path) -> list[Check]:
    """Compare the logged git commit and dirty flag with the checkout at ``root``."""
    sha_logged = tags.get("git_sha", "unknown")
    sha_now = git_sha(root) or "unknown"
    dirty_logged = tags.get("git_dirty", "None")
    dirty_now = str(git_dirty(root))
    commit = Check(
        name="git commit",
        status="same" if sha_logged == sha_now else "differs",
        logged=sha_logged[:12],
        current=sha_now[:12],
        details=[] if sha_logged == sha_now else [f"check out {sha_logged} to run the same code"],
    )
    tree = Check(
        name="git tree",
        status="same",
        logged="dirty" if dirty_logged == "True" else "clean",
        current="dirty" if dirty_now == "True" else "clean",
    )
    if dirty_logged == "False" and dirty_now == "True":
        tree.status = "differs"
        tree.details = ["the run was made from a clean tree; this checkout has uncommitted changes"]
    elif dirty_logged == "True":
        tree.details = [
            "the run was made with uncommitted changes: the commit alone does not pin its code"
        ]
    return [commit, tree]


#: The cross-validated metrics a reader looks at first (those a run logged, in this order).
HEADLINE_METRICS = (
    "cv/auroc",
    "cv/brier",
    "cv/calibration_slope",
    "cv/calibration_intercept",
    "cv/auprc",
    "cv/rmse",
    "cv/mae",
    "cv/r2",
)
#: How many metric differences the check lists before pointing to the file of all of them.
_MAX_METRIC_LINES = 8
#: The reproduction run's file holding every metric difference.
METRIC_DIFFERENCES_FILE = "reproduction/metric_differences.csv"


def metric_differences(
    old: Mapping[str, float], new: Mapping[str, float], *, optimized: str | None = None
) -> pd.DataFrame:
    """Tabulate every metric that differs (``timing/*`` excluded; NaN equals NaN).

    The optimised metric leads, then the headline metrics (:data:`HEADLINE_METRICS`), then the
    rest by name. Columns: ``metric``, ``logged``, ``now``, ``difference``, ``headline``.

    Examples
    --------
    >>> metric_differences({"a/x": 1.0, "cv/auroc": 0.9037}, {"a/x": 2.0, "cv/auroc": 0.9018}
    ...                    ).metric.tolist()
    ['cv/auroc', 'a/x']
    """
    lead = [m for m in dict.fromkeys([optimized, *HEADLINE_METRICS]) if m]
    keys = sorted(k for k in set(old) | set(new) if not k.startswith("timing/"))
    rows = []
    for key in keys:
        a, b = old.get(key), new.get(key)
        if a is not None and b is not None and (a == b or (np.isnan(a) and np.isnan(b))):
            continue
        diff = b - a if a is not None and b is not None else np.nan
        rows.append({"metric": key, "logged": a, "now": b, "difference": diff})
    table = pd.DataFrame(rows, columns=["metric", "logged", "now", "difference"])
    rank = {m: i for i, m in enumerate(lead)}
    table["headline"] = table["metric"].isin(rank)
    order = table["metric"].map(lambda m: (rank.get(m, len(rank)), m))
    return table.iloc[np.argsort(order.to_numpy(), kind="stable")].reset_index(drop=True)


def _metric_line(row: Mapping[str, Any]) -> str:
    def show(v: float | None) -> str:
        return "absent" if v is None or pd.isna(v) else f"{v:.4g}"

    gap = "" if pd.isna(row["difference"]) else f" ({row['difference']:+.2g})"
    return f"{row['metric']}: {show(row['logged'])} -> {show(row['now'])}{gap}"


def compare_metrics(
    old: Mapping[str, float], new: Mapping[str, float], *, optimized: str | None = None
) -> Check:
    """Compare every metric exactly; list the optimised and headline ones first.

    At most a handful of lines: the optimised metric and the headline metrics that differ (the
    first others when no headline metric differs), then a line naming
    :data:`METRIC_DIFFERENCES_FILE` for the rest.

    Examples
    --------
    >>> old = {f"comparison/m{i}_diff_ci_low": 0.0 for i in range(20)} | {"cv/auroc": 0.9037}
    >>> new = {f"comparison/m{i}_diff_ci_low": 1.0 for i in range(20)} | {"cv/auroc": 0.9018}
    >>> compare_metrics(old, new, optimized="cv/auroc").details[0]
    'cv/auroc: 0.9037 -> 0.9018 (-0.0019)'
    """
    keys = [k for k in set(old) | set(new) if not k.startswith("timing/")]
    table = metric_differences(old, new, optimized=optimized)
    shown = table[table["headline"]] if table["headline"].any() else table
    shown = shown.head(_MAX_METRIC_LINES)
    details = [_metric_line(row) for row in shown.to_dict("records")]
    if len(table) > len(shown):
        details.append(
            f"... {len(table) - len(shown)} more: all {len(table)} in "
            f"{METRIC_DIFFERENCES_FILE} of the new run"
        )
    return Check(
        name="metrics",
        status="differs" if len(table) else "same",
        logged=f"{len(keys)} metrics",
        current=f"{len(keys) - len(table)} identical",
        details=details,
    )


def _read_table(path: Path) -> pd.DataFrame:
    return pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path)


def compare_tables(a: pd.DataFrame, b: pd.DataFrame) -> list[str]:
    """Name the columns and count the rows in which two tables differ (empty: identical).

    Examples
    --------
    >>> compare_tables(pd.DataFrame({"x": [1.0, 2.0]}), pd.DataFrame({"x": [1.0, 2.5]}))
    ['1 of 2 rows differ', 'column x: 1 values differ (largest gap 0.5)']
    """
    if list(a.columns) != list(b.columns):
        return [f"columns differ: {list(a.columns)} vs {list(b.columns)}"]
    if len(a) != len(b):
        return [f"{len(a)} rows logged, {len(b)} now"]
    details = []
    changed = np.zeros(len(a), dtype=bool)
    for col in a.columns:
        x, y = a[col], b[col]
        if str(x.dtype) != str(y.dtype):
            details.append(f"column {col}: dtype {x.dtype} logged, {y.dtype} now")
        same = (x.to_numpy() == y.to_numpy()) | (x.isna().to_numpy() & y.isna().to_numpy())
        if not same.all():
            changed |= ~same
            if pd.api.types.is_numeric_dtype(x) and pd.api.types.is_numeric_dtype(y):
                gap = float(np.nanmax(np.abs(x.to_numpy(dtype=float) - y.to_numpy(dtype=float))))
                details.append(
                    f"column {col}: {int((~same).sum())} values differ (largest gap {gap:.3g})"
                )
            else:
                details.append(f"column {col}: {int((~same).sum())} values differ")
    if changed.any():
        details.insert(0, f"{int(changed.sum())} of {len(a)} rows differ")
    return details


def compare_logged_file(
    tracking: TrackingSpec, path: str, *, old_run: str, new_run: str, tmp: Path
) -> Check | None:
    """Compare one logged file of two runs: bytes first, then values (``None``: not logged)."""
    old = download_run_file(tracking, old_run, path, dst=tmp / "old")
    if old is None:
        return None  # the original has no such file: nothing to compare
    new = download_run_file(tracking, new_run, path, dst=tmp / "new")
    if new is None:
        return Check(
            name=path,
            status="differs",
            logged="present",
            current="absent",
            details=["the reproduction did not log it"],
        )
    if old.read_bytes() == new.read_bytes():
        return Check(name=path, status="same", logged="logged", current="byte-identical")
    details = compare_tables(_read_table(old), _read_table(new))
    if not details:  # same values, different bytes (e.g. parquet metadata): identical content
        return Check(name=path, status="same", logged="logged", current="identical values")
    return Check(
        name=path,
        status="differs",
        logged=f"{len(_read_table(old))} rows",
        current=f"{len(_read_table(new))} rows",
        details=details
        if len(details) <= _MAX_FILE_LINES
        else [
            *details[:_MAX_FILE_LINES],
            f"... {len(details) - _MAX_FILE_LINES} more columns differ",
        ],
    )


def result_checks(
    spec: TrackingSpec,
    run_id: str,
    new_run_id: str,
    metrics: Mapping[str, float],
    compare: Iterable[str],
    *,
    optimized: str | None = None,
) -> list[Check]:
    """Compare every metric (``metrics``: the original run's) and every listed file, exactly.

    Every metric difference goes to the new run's :data:`METRIC_DIFFERENCES_FILE`; the check
    lists the optimised metric (``optimized``) and the headline ones first.
    """
    new_metrics = get_run(spec, new_run_id)["metrics"]
    checks = [compare_metrics(metrics, new_metrics, optimized=optimized)]
    table = metric_differences(metrics, new_metrics, optimized=optimized)
    if len(table):
        add_run_files(spec, new_run_id, {METRIC_DIFFERENCES_FILE: table.to_csv(index=False)})
    with tempfile.TemporaryDirectory() as tmp:
        for path in compare:
            check = compare_logged_file(
                spec, path, old_run=run_id, new_run=new_run_id, tmp=Path(tmp)
            )
            if check is not None:
                checks.append(check)
    return checks


def tag_reproduction(spec: TrackingSpec, new_run_id: str, report: ReproductionReport) -> None:
    """Tag the reproduction run with its status and attach ``reproduction/report.json``."""
    tags = {
        "reproduction.status": report.status,
        "reproduction.results": "identical" if report.results_identical else "different",
        "reproduction.differences": ",".join(c.name for c in report.differences) or "none",
    }
    set_run_tags(spec, new_run_id, tags)
    add_run_files(spec, new_run_id, {"reproduction/report.json": report.to_dict()})
