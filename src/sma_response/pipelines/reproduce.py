"""Reproduce a logged training run: check what it was made from, re-run it, compare exactly.

``reproduce_run(run_id, tracking=...)`` is what ``sma-reproduce`` calls:

1. read what the run logged: the resolved config, overrides and config-group choices, seed,
   data digest (and per-table fingerprint), key package versions, git commit and dirty flag;
2. check each against the current environment and name every difference:

   * ``config``: the config of the re-run (the logged one, with ``changes`` applied) against
     the logged one; folders that moved with the checkout are noted, not counted;
   * ``config files``: the logged overrides re-applied to the *current* ``configs/`` give the
     logged config (catches an edited default; only for runs launched through Hydra);
   * ``seed``; ``data``: the CDM digest recomputed from the data on disk (simulated and
     harmonised from the logged config first when missing); ``packages``: the key packages of
     ``environment/key_packages.json`` against those installed; ``git commit``/``git tree``;

3. re-run :func:`~sma_response.pipelines.train.run_training` with the logged config, tagged
   ``reproduces=<run id>``;
4. compare every metric (except ``timing/*``) and the logged predictions (and SHAP values,
   subgroup and attrition tables) exactly, and tag the new run
   ``reproduction.status=identical|different`` with the report as ``reproduction/report.json``.
"""

from __future__ import annotations

import json
import logging
import tempfile
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from sma_response.conf.factory import ConfigError, check_targets
from sma_response.conf.resolvers import PROJECT_ROOT
from sma_response.conf.train import TrainConfig
from sma_response.pipelines.data import DataError, ensure_cdm
from sma_response.pipelines.fingerprint import cdm_fingerprint, compare_fingerprints
from sma_response.tracking.lookup import (
    RunNotFoundError,
    add_run_files,
    download_run_file,
    get_run,
    read_run_json,
    read_run_text,
    set_run_tags,
)
from sma_response.tracking.provenance import KEY_PACKAGES, git_dirty, git_sha, package_versions
from sma_response.tracking.spec import TrackingSpec

__all__ = [
    "DEFAULT_COMPARE",
    "Check",
    "ReproductionError",
    "ReproductionReport",
    "diff_configs",
    "relocate_config",
    "reproduce_run",
    "run_reproduction",
]

log = logging.getLogger(__name__)

#: Logged files compared exactly between the original run and its reproduction.
DEFAULT_COMPARE = (
    "predictions/oof.parquet",
    "predictions/oof_baseline.parquet",
    "explain/shap_oof.parquet",
    "evaluation/subgroups.csv",
    "evaluation/interval_coverage.csv",
    "cohort/attrition.csv",
)
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


class ReproductionError(Exception):
    """The reproduction cannot start for a reason the user can fix (one line, no traceback)."""


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


# --------------------------------------------------------------------------- config helpers


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


def _first_line(err: BaseException) -> str:
    return str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__


def _show(value: Any) -> str:
    text = json.dumps(value, default=str) if not isinstance(value, str) else value
    return text if len(text) <= 60 else text[:57] + "..."


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


def _apply_changes(config: dict[str, Any], changes: Sequence[str]) -> dict[str, Any]:
    if not changes:
        return config
    for change in changes:
        key, sep, _ = str(change).partition("=")
        if not sep or not key:
            msg = f"changes: {change!r} is not key=value"
            raise ReproductionError(msg)
        node: Any = config
        for part in key.split(".")[:-1]:
            node = node.get(part, {}) if isinstance(node, Mapping) else {}
        if isinstance(node, Mapping) and isinstance(node.get(key.split(".")[-1]), Mapping):
            msg = (
                f"changes: {change!r} names a config group or section; a logged config is fully "
                "resolved, so change single values (e.g. model.classifier.max_depth=4)"
            )
            raise ReproductionError(msg)
    try:
        merged = OmegaConf.merge(OmegaConf.create(config), OmegaConf.from_dotlist(list(changes)))
    except OmegaConfBaseException as err:
        msg = f"changes: {err}"
        raise ReproductionError(msg) from err
    return OmegaConf.to_container(merged, resolve=False)  # type: ignore[return-value]


def _train_config(config: Mapping[str, Any]) -> DictConfig:
    """Put the logged values on the current training schema (the re-run's config)."""
    try:
        cfg = OmegaConf.merge(OmegaConf.structured(TrainConfig), OmegaConf.create(dict(config)))
    except OmegaConfBaseException as err:
        msg = f"the logged config does not fit the current training schema: {err}".splitlines()[0]
        raise ReproductionError(msg) from err
    try:  # before any data is read: a config from a shared store may not build arbitrary objects
        check_targets(cfg)
    except ConfigError as err:
        msg = f"the logged config is refused: {err}"
        raise ReproductionError(msg) from err
    return cfg  # type: ignore[return-value]


# --------------------------------------------------------------------------- checks


def _config_check(
    logged: Mapping[str, Any], rerun: Mapping[str, Any], changes: Sequence[str]
) -> Check:
    diffs = diff_configs(logged, rerun)
    return Check(
        name="config",
        status="differs" if diffs else "same",
        logged="config/config.yaml",
        current=f"logged config + {len(changes)} change(s)" if changes else "logged config",
        details=diffs[:_MAX_DETAILS]
        + ([f"... {len(diffs) - _MAX_DETAILS} more"] if len(diffs) > _MAX_DETAILS else []),
    )


def _overrides_check(
    overrides: Mapping[str, Any] | None, logged: Mapping[str, Any], config_dir: Path | None
) -> Check:
    from hydra.errors import HydraException

    from sma_response.conf.compose import compose_config

    name = "config files"
    if not overrides or not overrides.get("choices"):
        return Check(
            name=name,
            status="skipped",
            details=[
                "the run was not launched through Hydra (no overrides logged), so the current "
                "configs/ cannot be re-composed for it"
            ],
        )
    args = [str(o) for o in overrides.get("overrides", [])]
    shown = f"{len(args)} override(s), {len(overrides['choices'])} group choices"
    try:
        cfg = compose_config("train", args, config_dir=config_dir, return_hydra_config=True)
    except (HydraException, OmegaConfBaseException, ConfigError) as err:
        return Check(
            name=name,
            status="differs",
            logged=shown,
            current="cannot compose",
            details=[f"the logged overrides no longer compose with configs/: {_first_line(err)}"],
        )
    all_choices: dict[str, Any] = OmegaConf.to_container(cfg.hydra.runtime.choices)  # type: ignore[assignment]
    choices = {str(k): v for k, v in all_choices.items() if not str(k).startswith("hydra/")}
    container: dict[str, Any] = OmegaConf.to_container(cfg, resolve=False)  # type: ignore[assignment]
    container.pop("hydra", None)
    try:
        current = OmegaConf.to_container(OmegaConf.create(container), resolve=True)
    except OmegaConfBaseException as err:
        return Check(
            name=name,
            status="differs",
            logged=shown,
            current="cannot resolve",
            details=[str(err).splitlines()[0]],
        )
    details = diff_configs(logged, current)  # type: ignore[arg-type]
    logged_choices = {
        str(k): v for k, v in overrides["choices"].items() if not str(k).startswith("hydra/")
    }
    details += [
        f"choice {k}: {logged_choices.get(k)} logged, {choices.get(k)} now"
        for k in sorted(set(logged_choices) | set(choices))
        if logged_choices.get(k) != choices.get(k)
    ]
    return Check(
        name=name,
        status="differs" if details else "same",
        logged=shown,
        current="re-composed with the current configs/",
        details=details[:_MAX_DETAILS],
    )


def _data_check(
    rerun_cfg: DictConfig,
    tags: Mapping[str, str],
    fingerprint: Mapping[str, Any] | None,
    notes: list[str],
) -> Check:
    logged_digest = tags.get("data.digest") or (fingerprint or {}).get("digest", "")
    cdm_dir = Path(rerun_cfg.harmonise.out_dir) / "cdm"
    existed = (cdm_dir / "manifest.json").is_file()
    try:
        cdm_dir = ensure_cdm(rerun_cfg)
    except DataError as err:
        return Check(
            name="data",
            status="differs",
            logged=logged_digest[:16],
            current="missing",
            details=[str(err)],
        )
    if not existed:
        notes.append(
            f"data: no CDM at {cdm_dir}; rebuilt it from the logged config "
            "(simulated if needed, harmonised)"
        )
    current = cdm_fingerprint(cdm_dir)
    details: list[str] = []
    if current["digest"] != logged_digest:
        details = compare_fingerprints(fingerprint, current) if fingerprint else []
        details = details or [
            "CDM digest differs (no per-table fingerprint logged, or only the pseudonym "
            "key changed)"
        ]
        details.append(f"read from {cdm_dir}")
    return Check(
        name="data",
        status="differs" if details else "same",
        logged=logged_digest[:16],
        current=current["digest"][:16],
        details=details,
    )


def _packages_check(logged: Mapping[str, str] | None, versions_txt: str | None) -> Check:
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
        from sma_response.tracking.provenance import installed_requirements

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


def _git_checks(tags: Mapping[str, str], root: Path) -> list[Check]:
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


# --------------------------------------------------------------------------- result comparison


def _compare_metrics(old: Mapping[str, float], new: Mapping[str, float]) -> Check:
    keys = sorted(k for k in set(old) | set(new) if not k.startswith("timing/"))
    details = []
    for key in keys:
        a, b = old.get(key), new.get(key)
        if a is None or b is None:
            details.append(
                f"{key}: {'absent' if a is None else a} logged, {'absent' if b is None else b} now"
            )
        elif a != b and not (np.isnan(a) and np.isnan(b)):
            details.append(f"{key}: {a:.6g} logged, {b:.6g} now ({b - a:+.3g})")
    return Check(
        name="metrics",
        status="differs" if details else "same",
        logged=f"{len(keys)} metrics",
        current=f"{len(keys) - len(details)} identical",
        details=details[:_MAX_DETAILS]
        + ([f"... {len(details) - _MAX_DETAILS} more"] if len(details) > _MAX_DETAILS else []),
    )


def _read(path: Path) -> pd.DataFrame:
    return pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path)


def _compare_tables(a: pd.DataFrame, b: pd.DataFrame) -> list[str]:
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


def _compare_file(
    tracking: TrackingSpec, path: str, *, old_run: str, new_run: str, tmp: Path
) -> Check | None:
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
    details = _compare_tables(_read(old), _read(new))
    if not details:  # same values, different bytes (e.g. parquet metadata): identical content
        return Check(name=path, status="same", logged="logged", current="identical values")
    return Check(
        name=path,
        status="differs",
        logged=f"{len(_read(old))} rows",
        current=f"{len(_read(new))} rows",
        details=details[:_MAX_DETAILS],
    )


# --------------------------------------------------------------------------- main entry


def reproduce_run(
    run_id: str,
    *,
    tracking: TrackingSpec,
    rerun: bool = True,
    changes: Sequence[str] = (),
    data_dir: str | None = None,
    output_root: str | None = None,
    compare: Iterable[str] = DEFAULT_COMPARE,
    root_dir: str | Path | None = None,
    config_dir: str | Path | None = None,
) -> ReproductionReport:
    """Rebuild a logged training run, check it against this environment, re-run and compare.

    Parameters
    ----------
    run_id
        The run to reproduce.
    tracking
        Store holding it; the reproduction is logged there, in the run's experiment (its model
        is logged but not registered).
    rerun
        Re-run the training; ``False`` checks config, data, packages and code only.
    changes
        ``key=value`` overrides of the logged config for the re-run (each is reported).
    data_dir, output_root
        Where the data and outputs are now (``None``: as logged, moved with the checkout).
    compare
        Logged files to compare exactly (those the original run has).
    root_dir
        The current checkout (default: this package's project root).
    config_dir
        The ``configs/`` folder to re-compose the logged overrides with (default: the
        checkout's).

    Returns
    -------
    ReproductionReport

    Raises
    ------
    ReproductionError
        Unknown run, a run without a logged config, or changes that cannot be applied.
    """
    from sma_response.pipelines.train import TrainingError, run_training

    started = time.perf_counter()
    root = str(root_dir or PROJECT_ROOT)
    try:
        original = get_run(tracking, run_id)
    except RunNotFoundError as err:
        raise ReproductionError(str(err)) from err
    text = read_run_text(tracking, run_id, "config/config.yaml")
    if text is None:
        msg = f"run {run_id} has no config/config.yaml: it was not logged by sma-train"
        raise ReproductionError(msg)
    logged: dict[str, Any] = OmegaConf.to_container(OmegaConf.create(text), resolve=False)  # type: ignore[assignment]
    notes: list[str] = []
    if original["status"] != "FINISHED":
        notes.append(f"the original run's status is {original['status']}")
    relocated, moved = relocate_config(
        logged, root_dir=root, data_dir=data_dir, output_root=output_root
    )
    notes.extend(moved)
    rerun_dict = _apply_changes(relocated, changes)
    log_model = bool(rerun_dict.get("tracking", {}).get("log_model", True))
    rerun_dict["tracking"] = {
        **asdict(tracking),
        "experiment_name": original["experiment_name"] or tracking.experiment_name,
        "registered_model_name": None,
        "log_model": log_model,
    }
    rerun_cfg = _train_config(rerun_dict)
    tags = original["tags"]

    checks = [
        _config_check(relocated, rerun_dict, changes),
        _overrides_check(
            read_run_json(tracking, run_id, "config/overrides.json"),
            logged,
            Path(config_dir) if config_dir else None,
        ),
        Check(
            name="seed",
            status="same"
            if str(tags.get("seed", logged.get("seed"))) == str(rerun_cfg.seed)
            else "differs",
            logged=str(tags.get("seed", logged.get("seed"))),
            current=str(rerun_cfg.seed),
        ),
        _data_check(
            rerun_cfg, tags, read_run_json(tracking, run_id, "data/cdm_fingerprint.json"), notes
        ),
        _packages_check(
            read_run_json(tracking, run_id, "environment/key_packages.json"),
            read_run_text(tracking, run_id, "environment/versions.txt"),
        ),
        *_git_checks(tags, Path(root)),
    ]
    new_run_id = None
    if rerun:
        log.info("re-running %s with the logged config", run_id)
        try:
            result = run_training(rerun_cfg, extra_tags={"reproduces": run_id})
        except TrainingError as err:
            msg = f"the re-run failed: {err}"
            raise ReproductionError(msg) from err
        new_run_id = result.run_id
        notes.append(
            f"reproduction logged as run {new_run_id} in experiment "
            f"{original['experiment_name']!r} ({tracking.uri})"
        )
        checks.append(
            _compare_metrics(original["metrics"], get_run(tracking, new_run_id)["metrics"])
        )
        with tempfile.TemporaryDirectory() as tmp:
            for path in compare:
                check = _compare_file(
                    tracking, path, old_run=run_id, new_run=new_run_id, tmp=Path(tmp)
                )
                if check is not None:
                    checks.append(check)
    any_diff = any(c.differs for c in checks)
    status = (
        ("different" if any_diff else "identical")
        if rerun
        else ("different" if any_diff else "consistent")
    )
    report = ReproductionReport(
        run_id=run_id,
        new_run_id=new_run_id,
        status=status,
        checks=checks,
        notes=notes,
        tracking_uri=tracking.uri,
        wall_seconds=time.perf_counter() - started,
    )
    if new_run_id is not None:
        set_run_tags(
            tracking,
            new_run_id,
            {
                "reproduction.status": status,
                "reproduction.results": "identical" if report.results_identical else "different",
                "reproduction.differences": ",".join(c.name for c in report.differences) or "none",
            },
        )
        add_run_files(tracking, new_run_id, {"reproduction/report.json": report.to_dict()})
    log.info("%s", report.summary())
    return report


def run_reproduction(cfg: DictConfig) -> ReproductionReport:
    """Reproduce the run named by a composed ``reproduce`` config (``configs/reproduce.yaml``).

    Raises
    ------
    ReproductionError
        For problems the user can fix (no or unknown run id, bad changes).
    """
    cfg = cfg.copy()
    OmegaConf.set_readonly(cfg, value=True)
    if OmegaConf.is_missing(cfg, "run_id") or not cfg.run_id:
        msg = "run_id: name the run to reproduce (sma-reproduce <run id>)"
        raise ReproductionError(msg)
    tracking = TrackingSpec(**OmegaConf.to_container(cfg.tracking, resolve=True))  # type: ignore[arg-type]
    return reproduce_run(
        str(cfg.run_id),
        tracking=tracking,
        rerun=bool(cfg.rerun),
        changes=[str(c) for c in cfg.changes],
        data_dir=cfg.data_dir,
        output_root=cfg.output_root,
        compare=[str(c) for c in cfg.compare],
        root_dir=str(cfg.paths.root_dir),
    )
