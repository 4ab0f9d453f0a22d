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

__all__ = ["ALLOWED_PREFIXES", "ConfigError", "build_estimator", "check_targets", "try_estimator"]

#: Only classes defined in these packages may be instantiated from a config file (and only
#: scikit-learn-style estimators among them).
ALLOWED_PREFIXES = ("xgboost.", "sklearn.")


class ConfigError(ValueError):
    """A config value is invalid; the message names the key."""


def _refuse(path: str, target: object, why: str) -> ConfigError:
    return ConfigError(f"{path}={target!r} is not allowed: {why}")


def _check_target(path: str, target: object) -> None:
    if not isinstance(target, str) or not target.startswith(ALLOWED_PREFIXES):
        raise _refuse(path, target, f"a config may only build classes from {ALLOWED_PREFIXES}")
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
    m.x._target_='collections.OrderedDict' is not allowed: a config may only build classes
    from ('xgboost.', 'sklearn.')
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
