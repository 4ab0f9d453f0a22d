"""Build the swappable leaf objects (estimators) from config, behind an allow-list."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

#: Only these modules may be instantiated from a config file.
ALLOWED_PREFIXES = ("xgboost.", "sklearn.", "sma_response.")


class ConfigError(ValueError):
    """A config value is invalid; the message names the key."""


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
        If ``_target_`` is missing or outside :data:`ALLOWED_PREFIXES`, or instantiation fails.
    """
    data = (
        OmegaConf.to_container(node, resolve=True) if isinstance(node, DictConfig) else dict(node)
    )
    target = data.get("_target_")
    if not isinstance(target, str):
        msg = f"{key}._target_ is missing"
        raise ConfigError(msg)
    if not target.startswith(ALLOWED_PREFIXES):
        msg = (
            f"{key}._target_={target!r} is not allowed; "
            f"it must start with one of {ALLOWED_PREFIXES}"
        )
        raise ConfigError(msg)
    try:
        return instantiate(data, _convert_="all")
    except Exception as err:  # Hydra wraps import and argument errors in its own types
        msg = f"{key}: cannot build {target}: {err}"
        raise ConfigError(msg) from err
