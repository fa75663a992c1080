"""Experiment files: the schema (:mod:`.schema`), reading and validating them (:mod:`.validate`), and
building the engine's inputs (:mod:`.build`)."""

from orbitshare.experiment.build import (
    build_elements,
    build_geography,
    build_grid,
    build_system,
    build_systems,
    build_times,
)
from orbitshare.experiment.schema import DATASETS, Experiment
from orbitshare.experiment.validate import default_experiment_path, load_experiment, validate_experiment

__all__ = [
    "DATASETS",
    "Experiment",
    "load_experiment",
    "validate_experiment",
    "default_experiment_path",
    "build_times",
    "build_grid",
    "build_geography",
    "build_elements",
    "build_system",
    "build_systems",
]
