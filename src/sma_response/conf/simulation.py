"""The ``simulation`` config node to the validated spec the simulator takes."""

from __future__ import annotations

from omegaconf import OmegaConf
from omegaconf.errors import OmegaConfBaseException

from sma_response.simulate.exports import check_export_formats
from sma_response.simulate.registries import check_registries
from sma_response.simulate.spec import SimulationSpec, SimulationSpecError

__all__ = ["to_simulation_spec"]


def to_simulation_spec(node: object) -> SimulationSpec:
    """Convert the ``simulation`` config node to a validated :class:`SimulationSpec`.

    Parameters
    ----------
    node
        A ``DictConfig`` (typed or not) or a plain mapping.

    Returns
    -------
    SimulationSpec
        The validated spec.

    Raises
    ------
    SimulationSpecError
        Naming the offending key (``simulation.<key>: <problem>``), for type errors, unknown
        keys, missing values and every rule of :meth:`SimulationSpec.validate`, the registry
        checks and the export formats.
    """
    try:
        merged = OmegaConf.merge(OmegaConf.structured(SimulationSpec), node)
        spec = OmegaConf.to_object(merged)
    except OmegaConfBaseException as err:
        key = getattr(err, "full_key", None) or "?"
        problem = str(getattr(err, "msg", err)).splitlines()[0]
        msg = f"simulation.{key}: {problem}"
        raise SimulationSpecError(msg) from err
    if not isinstance(spec, SimulationSpec):  # merged onto the structured schema: always one
        msg = "simulation: not a mapping"
        raise SimulationSpecError(msg)
    spec.validate()
    check_registries(spec)
    check_export_formats(spec)
    return spec
