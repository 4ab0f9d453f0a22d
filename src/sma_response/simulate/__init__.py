"""Synthetic multi-region SMA registry: disease model, registries, exports, trial emulation.

The public API (DESIGN section 3)::

    from sma_response.simulate import SimulationSpec, emulate_trial, simulate_patients
"""

from __future__ import annotations

from sma_response.simulate.calibration import calibration_table
from sma_response.simulate.cohort import SimulatedPatients, simulate_patients
from sma_response.simulate.dataset import dataset_files, dataset_manifest
from sma_response.simulate.exports import export_registries
from sma_response.simulate.ground_truth import build_ground_truth
from sma_response.simulate.params import DiseaseParams, TherapyParams, TypeParams
from sma_response.simulate.registries import RegistryData, observe_registries
from sma_response.simulate.spec import RegionSpec, RegistrySpec, SimulationSpec, SimulationSpecError
from sma_response.simulate.trials import TrialSpecError, emulate_trial, validate_spec
from sma_response.simulate.truth import counterfactual_outcomes

__all__ = [
    "DiseaseParams",
    "RegionSpec",
    "RegistryData",
    "RegistrySpec",
    "SimulatedPatients",
    "SimulationSpec",
    "SimulationSpecError",
    "TherapyParams",
    "TrialSpecError",
    "TypeParams",
    "build_ground_truth",
    "calibration_table",
    "counterfactual_outcomes",
    "dataset_files",
    "dataset_manifest",
    "emulate_trial",
    "export_registries",
    "observe_registries",
    "simulate_patients",
    "validate_spec",
]
