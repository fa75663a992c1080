"""Experiment files: schema, validation, and building the engine's inputs."""
