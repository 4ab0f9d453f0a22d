"""Safe instantiation: every ``_target_`` of a config tree, at any depth, is allow-listed."""

from __future__ import annotations

import collections

import pytest
from omegaconf import OmegaConf
from sklearn.ensemble import BaggingRegressor
from sklearn.tree import DecisionTreeRegressor

from sma_response.conf.compose import compose_config
from sma_response.conf.factory import ConfigError, build_estimator, check_targets


@pytest.mark.parametrize(
    "target",
    [
        "collections.OrderedDict",  # outside the allowed packages
        "os.system",
        "sklearn.utils.shuffle",  # a function, not an estimator class
        "sklearn.base.np.load",  # reached through an allowed module
        "xgboost.core.json.loads",
        "sklearn.no_such.Thing",
        "sma_response.harmonise.io.pd.read_pickle",  # the package's own modules reach pandas
        "sma_response._utils.io.atomic_write_text",
        "sklearn.svm.SVC",  # an estimator class, but not one of the listed ones
        "xgboost.sklearn.XGBClassifier",  # a listed class by another path: names are exact
    ],
)
def test_a_nested_target_outside_the_allow_list_is_refused(target):
    node = {"_target_": "sklearn.ensemble.BaggingRegressor", "estimator": {"_target_": target}}
    with pytest.raises(ConfigError, match=r"^model\.regressor\.estimator\._target_=") as err:
        build_estimator(node, key="model.regressor")
    assert target in str(err.value)
    assert "\n" not in str(err.value)


def test_nested_allowed_estimators_are_built():
    node = OmegaConf.create(
        {
            "_target_": "sklearn.ensemble.BaggingRegressor",
            "n_estimators": 2,
            "estimator": {"_target_": "sklearn.tree.DecisionTreeRegressor", "max_depth": 2},
        }
    )
    built = build_estimator(node, key="model.regressor")
    assert isinstance(built, BaggingRegressor)
    assert isinstance(built.estimator, DecisionTreeRegressor)


def test_targets_in_lists_are_checked_and_named():
    tree = {"a": [{"_target_": "sklearn.linear_model.Ridge"}, {"_target_": "builtins.eval"}]}
    with pytest.raises(ConfigError, match=r"^a\[1\]\._target_='builtins.eval' is not allowed"):
        check_targets(tree)


def test_compose_refuses_a_nested_target_before_anything_runs():
    with pytest.raises(ConfigError, match=r"model\.classifier\.booster\._target_"):
        compose_config("train", ["+model.classifier.booster={_target_: collections.OrderedDict}"])


def test_a_nested_target_never_reaches_hydra(monkeypatch):
    """Refused before instantiation: OrderedDict is never constructed."""
    built = []
    monkeypatch.setattr(collections, "OrderedDict", lambda *a, **k: built.append(a))
    node = {"_target_": "sklearn.linear_model.Ridge", "x": {"_target_": "collections.OrderedDict"}}
    with pytest.raises(ConfigError):
        build_estimator(node)
    assert built == []


@pytest.mark.parametrize(
    "override",
    [
        "model=../../../elsewhere/evil",
        "model@baseline_model=/etc/evil",
        "target=choice(responder,../../tmp/evil)",
        "+experiments=~/evil",
    ],
)
def test_a_group_option_that_is_a_path_is_refused(override):
    from sma_response.conf.factory import check_group_paths

    with pytest.raises(ConfigError, match=r"not a path$"):
        check_group_paths([override], source="the command line")


def test_logged_overrides_may_not_reach_outside_configs():
    from sma_response.conf.logged import check_logged_overrides

    check_logged_overrides(["model=hist_gb", "seed=3", "model.classifier.max_depth=4"])
    with pytest.raises(ConfigError, match=r"not a path"):
        check_logged_overrides(["model=../../evil"])
    with pytest.raises(ConfigError, match=r"may not add config search paths"):
        check_logged_overrides(["hydra.searchpath=[file:///tmp/evil]"])
