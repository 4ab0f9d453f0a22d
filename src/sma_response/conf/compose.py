"""Compose a primary config from Python (notebooks, ``sma-reproduce``, ``sma-validate``).

The same composition the ``@hydra.main`` entry points do, without starting a Hydra app: no
output folder, no logging set-up, no working-directory change.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.errors import HydraException
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from sma_response.conf.factory import ConfigError, check_targets
from sma_response.conf.resolvers import CONFIG_DIR, register_resolvers

__all__ = ["compose_config", "with_baseline_model"]


def _register_all() -> None:
    from sma_response.conf.harmonise import register_harmonise_configs
    from sma_response.conf.report import register_report_configs
    from sma_response.conf.reproduce import register_reproduce_configs
    from sma_response.conf.store import register_configs
    from sma_response.conf.train import register_train_configs
    from sma_response.conf.validate import register_validate_configs

    register_resolvers()
    register_configs()
    register_harmonise_configs()
    register_report_configs()
    register_train_configs()
    register_reproduce_configs()
    register_validate_configs()


def compose_config(
    config_name: str,
    overrides: Sequence[str] = (),
    *,
    config_dir: str | Path | None = None,
    return_hydra_config: bool = False,
) -> DictConfig:
    """Compose ``configs/<config_name>.yaml`` with command-line style overrides.

    Parameters
    ----------
    config_name
        Primary config: ``train``, ``report``, ``reproduce``, ``validate``, ...
    overrides
        ``key=value`` and ``group=option`` strings, as on the command line.
    config_dir
        Config folder (default: the project's ``configs/``).
    return_hydra_config
        Keep the ``hydra`` node (it holds ``runtime.choices``).

    Returns
    -------
    omegaconf.DictConfig
        The composed config (interpolations unresolved).

    Raises
    ------
    hydra.errors.HydraException
        For an unknown group option, a typo in a key or a wrong type (the schemas catch them).
    ConfigError
        For a ``_target_`` (at any depth) outside the allow-list.

    Examples
    --------
    >>> cfg = compose_config("train", ["model=hist_gb", "seed=3"])
    >>> cfg.model.name, cfg.seed
    ('hist_gb', 3)
    """
    _register_all()
    GlobalHydra.instance().clear()
    try:
        with initialize_config_dir(config_dir=str(config_dir or CONFIG_DIR), version_base="1.3"):
            cfg = compose(
                config_name=config_name,
                overrides=list(overrides),
                return_hydra_config=return_hydra_config,
            )
    finally:
        GlobalHydra.instance().clear()
    check_targets(cfg)
    return cfg


def with_baseline_model(
    config: Mapping[str, Any], *, config_dir: str | Path | None = None
) -> tuple[Mapping[str, Any], str | None]:
    """Fill ``baseline_model`` in a training config logged before it was a config group.

    Such a config names its comparator only in ``evaluate.baseline``; the option is composed
    from the current ``configs/model/`` (the file the run loaded by hand then).

    Returns
    -------
    tuple
        The config (unchanged when it has a ``baseline_model`` or no comparator) and a note
        saying what was filled (``None``: nothing).

    Raises
    ------
    ConfigError
        When ``evaluate.baseline`` names no model option.

    Examples
    --------
    >>> filled, note = with_baseline_model({"evaluate": {"baseline": "logreg"}})
    >>> filled["baseline_model"]["classifier"]["_target_"]
    'sklearn.linear_model.LogisticRegression'
    >>> with_baseline_model(filled)[1] is None
    True
    """
    name = (config.get("evaluate") or {}).get("baseline")
    if "baseline_model" in config or not isinstance(name, str):
        return config, None
    try:
        cfg = compose_config("train", [f"model@baseline_model={name}"], config_dir=config_dir)
    except (HydraException, OmegaConfBaseException) as err:
        msg = f"evaluate.baseline={name!r} names no model option in configs/model/"
        raise ConfigError(msg) from err
    node = OmegaConf.to_container(cfg.baseline_model, resolve=False)
    note = (
        f"the run predates the baseline_model config group: its comparator {name!r} is "
        "taken from the current configs/model/"
    )
    return {**config, "baseline_model": node}, note
