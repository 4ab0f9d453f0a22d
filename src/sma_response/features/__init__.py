"""Feature stage: one row per index event, from data known at the index date."""

from __future__ import annotations

from sma_response.features.engineer import make_features
from sma_response.features.preprocess import concept_of, make_preprocessor
from sma_response.features.spec import FeatureSpec

__all__ = ["FeatureSpec", "concept_of", "make_features", "make_preprocessor"]
