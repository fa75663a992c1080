"""Sensitivity sweeps: an experiment run over sampled parameter values (``[sweep]``), each sample exactly the
run ``orbitshare run`` makes of it, combined into intervals, robustness read-outs and SALib indices
(:func:`sweep`; the section's keys in :mod:`orbitshare.sensitivity.spec`)."""

from orbitshare.sensitivity.run import SweepResults, sweep
from orbitshare.sensitivity.spec import Parameter, SweepSpec, read_sweep

__all__ = ["sweep", "SweepResults", "SweepSpec", "Parameter", "read_sweep"]
