"""Build the swappable leaf objects (estimators) from config, behind an allow-list."""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import Any

import numpy as np
from hydra.utils import get_class, instantiate
from omegaconf import DictConfig, ListConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException
from sklearn.base import BaseEstimator, clone

from sma_response.conf.nodes import node_dict

__all__ = [
    "ALLOWED_PREFIXES",
    "ALLOWED_TARGETS",
    "ConfigError",
    "build_estimator",
    "check_group_paths",
    "check_targets",
    "try_estimator",
]

#: Packages whose classes the allow-list may name (a listed class must be defined there).
ALLOWED_PREFIXES = ("xgboost.", "sklearn.")
#: The only ``_target_`` values a config may hold, exactly (no prefix, no module path through
#: another module): the estimators of ``configs/model/`` and their close relatives.
ALLOWED_TARGETS = frozenset(
    {
        "xgboost.XGBClassifier",
        "xgboost.XGBRegressor",
        "sklearn.ensemble.HistGradientBoostingClassifier",
        "sklearn.ensemble.HistGradientBoostingRegressor",
        "sklearn.ensemble.RandomForestClassifier",
        "sklearn.ensemble.RandomForestRegressor",
        "sklearn.linear_model.LogisticRegression",
        "sklearn.linear_model.Ridge",
        "sklearn.linear_model.ElasticNet",
        "sklearn.linear_model.LinearRegression",
        "sklearn.ensemble.BaggingClassifier",
        "sklearn.ensemble.BaggingRegressor",
        "sklearn.tree.DecisionTreeClassifier",
        "sklearn.tree.DecisionTreeRegressor",
    }
)


class ConfigError(ValueError):
    """A config value is invalid; the message names the key."""


def _refuse(path: str, target: object, why: str) -> ConfigError:
    return ConfigError(f"{path}={target!r} is not allowed: {why}")


def _check_target(path: str, target: object) -> None:
    if not isinstance(target, str) or target not in ALLOWED_TARGETS:
        raise _refuse(
            path,
            target,
            f"a config may only build one of the {len(ALLOWED_TARGETS)} estimator classes "
            "listed in sma_response.conf.factory.ALLOWED_TARGETS, named exactly",
        )
    try:
        cls = get_class(target)
    except Exception as err:  # Hydra raises ImportError/ValueError variants for a bad path
        raise _refuse(path, target, "no such class") from err
    if not str(cls.__module__).startswith(ALLOWED_PREFIXES) or not issubclass(cls, BaseEstimator):
        raise _refuse(
            path, target, "it is not a scikit-learn or xgboost estimator class defined there"
        )


def check_targets(node: object, *, path: str = "") -> None:
    """Refuse a config tree with a ``_target_`` (at any depth) outside the allow-list.

    Hydra instantiates nested ``_target_`` nodes too, so every one is checked, before any data
    is read. The ``hydra`` node (Hydra's own callbacks and launchers) is not user model config
    and is skipped at the top level.

    Parameters
    ----------
    node
        A config tree (``DictConfig``, ``ListConfig``, mapping, list) or a leaf.
    path
        Key path of ``node``, used in the message.

    Raises
    ------
    ConfigError
        Naming the key path of the first disallowed target.

    Examples
    --------
    >>> check_targets({"model": {"classifier": {"_target_": "xgboost.XGBClassifier"}}})
    >>> try:
    ...     check_targets({"m": {"_target_": "sklearn.linear_model.Ridge",
    ...                          "x": {"_target_": "collections.OrderedDict"}}})
    ... except ConfigError as err:
    ...     print(err)
    m.x._target_='collections.OrderedDict' is not allowed: a config may only build one of
    the 14 estimator classes listed in sma_response.conf.factory.ALLOWED_TARGETS, named exactly
    """
    if isinstance(node, DictConfig | ListConfig):
        try:
            node = OmegaConf.to_container(node, resolve=True, throw_on_missing=False)
        except OmegaConfBaseException:  # an unresolvable value elsewhere: check it unresolved
            node = OmegaConf.to_container(node, resolve=False)
    if isinstance(node, Mapping):
        for key, value in node.items():
            if not path and key == "hydra":
                continue
            sub = f"{path}.{key}" if path else str(key)
            if key == "_target_":
                _check_target(sub, value)
            else:
                check_targets(value, path=sub)
    elif isinstance(node, list | tuple):
        for i, value in enumerate(node):
            check_targets(value, path=f"{path}[{i}]")


def build_estimator(node: Mapping[str, Any] | DictConfig, *, key: str = "model") -> Any:
    """Instantiate an unfitted estimator from a ``_target_`` node.

    Parameters
    ----------
    node
        Mapping with ``_target_`` and keyword arguments.
    key
        Config key of the node, used in error messages.

    Returns
    -------
    object
        The unfitted estimator.

    Raises
    ------
    ConfigError
        If ``_target_`` is missing, any ``_target_`` in the node is outside the allow-list
        (:func:`check_targets`), or instantiation fails.
    """
    data = node_dict(node, key=key)
    target = data.get("_target_")
    if not isinstance(target, str):
        msg = f"{key}._target_ is missing"
        raise ConfigError(msg)
    check_targets(data, path=key)
    try:
        return instantiate(data, _convert_="all")
    except Exception as err:  # Hydra wraps import and argument errors in its own types
        msg = f"{key}: cannot build {target}: {err}"
        raise ConfigError(msg) from err


def try_estimator(estimator: Any, *, key: str, task: str) -> None:
    """Fit a clone of ``estimator`` on 8 rows of noise, so bad settings fail now, in one line.

    Estimators check most settings only when fitted (xgboost's ``max_depth=four`` fails after
    the data are read and the folds split); this trial fit takes milliseconds.

    Raises
    ------
    ConfigError
        Naming ``key`` and the estimator's own complaint (its first line).
    """
    rng = np.random.default_rng(0)
    X, y = rng.random((8, 2)), np.array([0, 1] * 4) if task == "classification" else rng.random(8)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # two boosting rounds on noise converge badly
            clone(estimator).set_params(**_quick(estimator)).fit(X, y)
    except Exception as err:  # each library raises its own type for a bad setting
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        msg = f"{key}: the estimator refuses its settings: {first[:300]}"
        raise ConfigError(msg) from err


def _quick(estimator: Any) -> dict[str, Any]:
    """Fewer boosting rounds for the trial fit (the settings checked stay the same)."""
    params = estimator.get_params(deep=False)
    return {
        k: 2
        for k in ("n_estimators", "max_iter")
        if isinstance(params.get(k), int) and not isinstance(params.get(k), bool)
    }


#: Characters that separate option names in an override value (sweeps, lists).
_OPTION_SEPARATORS = str.maketrans(dict.fromkeys(",()[] ", " "))


def check_group_paths(overrides: list[str] | tuple[str, ...], *, source: str) -> None:
    """Refuse a config-group override whose option is a path, not a name inside ``configs/``.

    ``model=../../elsewhere/evil`` would make Hydra load a YAML from outside the config
    folder; so would a sweep over such a value. Keys with a dot set values, not groups, and
    are not checked here.

    Raises
    ------
    ConfigError
        Naming the override and ``source`` (where it came from).

    Examples
    --------
    >>> check_group_paths(["model=xgboost", "seed=1"], source="the command line")
    >>> try:
    ...     check_group_paths(["model=choice(xgboost,../../tmp/evil)"], source="run abc")
    ... except ConfigError as err:
    ...     print(err)
    model=choice(xgboost,../../tmp/evil) (run abc): a config group option is a name inside configs/model/, not a path
    """  # noqa: E501
    for override in overrides:
        key, sep, value = str(override).partition("=")
        key = key.lstrip("+~")
        if not sep or "." in key or key.startswith("hydra"):
            continue
        group = key.split("@")[0]
        for option in value.translate(_OPTION_SEPARATORS).split():
            if ".." in option or option.startswith(("/", "\\", "~")) or ":" in option:
                msg = (
                    f"{override} ({source}): a config group option is a name inside "
                    f"configs/{group}/, not a path"
                )
                raise ConfigError(msg)
