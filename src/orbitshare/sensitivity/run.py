"""Running a sweep: every sample through :func:`orbitshare.runner.run`, then the combined outputs.

:func:`sweep` reads the sweep file (:func:`~orbitshare.sensitivity.spec.read_sweep`), draws the samples,
validates every sample's experiment BEFORE anything runs (all failing samples in one
:class:`~orbitshare.errors.ConfigError`), then runs sample ``i`` with :func:`orbitshare.runner.run` into
``OUT/samples/<iiii>/`` (the run ``orbitshare run`` makes of that experiment) and writes into ``OUT``.
Samples run one after another on their ``[compute]`` backend; when every sample's ``[compute]`` says
``backend = "dask"`` (the same scheduler or workers), each sample is instead ONE Dask task (independent
tasks, as many at once as the cluster has workers), run on the CPU backend inside its worker: the same
bits (the backends agree exactly), and the sample's files still name its ``[compute]``. Outputs:

=========================  ===================================================================
``sweep.h5``                groups ``groups``, ``countries`` (dimension ``sample``, sampled values as
                            coordinates), ``summary``, ``robustness``, ``rank_stability``, ``indices``
``samples.csv``             sample, is_base, in_design, the sampled values
``groups.csv`` ...          ``groups.csv``, ``countries.csv`` (the runs' tables with a ``sample`` column),
                            ``summary.csv``, ``robustness.csv``, ``rank_stability.csv``, ``indices.csv``
``tornado.png``             the tornado chart; ``report.md``, ``report.html``
=========================  ===================================================================

The sweep directory (default ``runs/<name>_sweep``) holds ``.orbitshare-sweep.json`` (the sweep's
fingerprint: sha256 of the base configuration, the ``[sweep]`` table and every sample's configuration,
whether it finished, the files it wrote) and ``.orbitshare-sweep.lock`` (held while the sweep runs).
``resume=True`` continues an interrupted sweep of the same fingerprint: a sample whose run directory holds
a finished run of the same configuration is skipped, an interrupted one resumes from its checkpoint (the
runner's own resume), so the result is the one of an uninterrupted sweep. ``overwrite=True`` deletes what
an earlier sweep wrote there (its files and sample run directories only) and starts over. Anything else is
refused with :class:`~orbitshare.errors.ResultsError`.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import xarray as xr

from orbitshare import runner
from orbitshare.atomic import atomic_path
from orbitshare.checkpoint import config_fingerprint
from orbitshare.errors import ConfigError, ResultsError
from orbitshare.experiment import load_experiment
from orbitshare.io import save_results
from orbitshare.rundir import read_manifest
from orbitshare.sensitivity import combine
from orbitshare.sensitivity import report as sreport
from orbitshare.sensitivity.spec import (
    Design,
    SweepFile,
    SweepSpec,
    base_values,
    design,
    read_sweep,
    sample_experiments,
)

if sys.platform != "win32":
    import fcntl

__all__ = ["sweep", "SweepResults", "SWEEP_MANIFEST", "SWEEP_LOCK", "sample_dir"]

SWEEP_MANIFEST = ".orbitshare-sweep.json"
SWEEP_LOCK = ".orbitshare-sweep.lock"
_VERSION = 1
_OUTPUTS = (
    "sweep.h5",
    "samples.csv",
    "groups.csv",
    "countries.csv",
    "summary.csv",
    "robustness.csv",
    "rank_stability.csv",
    "indices.csv",
    "tornado.png",
    "report.md",
    "report.html",
)


@dataclass
class SweepResults:
    """What :func:`sweep` made. ``values``: path → the value of each sample; ``base``: the sample that is the
    base experiment; ``design``: the samples the method drew; ``groups``/``countries``: the stacked Datasets
    (dimension ``sample``); ``summary``, ``robustness``, ``rank_stability``, ``indices`` (None unless sobol
    or morris): the read-outs; ``seconds``: run time per sample (s; NaN for a sample skipped on resume);
    ``skipped``: samples found finished; ``files``: the paths written into ``out_dir``."""

    out_dir: Path
    spec: SweepSpec
    values: dict[str, list[Any]]
    base: int
    design: tuple[int, ...]
    indicator: str
    groups: xr.Dataset
    countries: xr.Dataset
    summary: pd.DataFrame
    robustness: pd.DataFrame
    rank_stability: pd.DataFrame
    indices: pd.DataFrame | None
    seconds: list[float] = field(default_factory=list)
    skipped: list[int] = field(default_factory=list)
    files: list[Path] = field(default_factory=list)

    @property
    def nsamples(self) -> int:
        """Runs in the sweep (the base run included)."""
        return len(self.seconds)

    def __repr__(self) -> str:
        return (
            f"SweepResults({str(self.out_dir)!r}, method={self.spec.method!r}, samples={self.nsamples}, "
            f"base={self.base}, indicator={self.indicator!r})"
        )


def sample_dir(out: Path, i: int) -> Path:
    """The run directory of sample ``i``: ``out/samples/0003``."""
    return Path(out) / "samples" / f"{i:04d}"


# ============================================================================ the sweep directory
def _fingerprint(sw: SweepFile, exps: list[Any]) -> str:
    doc = {
        "base": config_fingerprint(sw.base),
        "sweep": sw.spec.to_dict(),
        "samples": [config_fingerprint(e) for e in exps],
    }
    return hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()


def _read_manifest(out: Path) -> dict[str, Any] | None:
    path = out / SWEEP_MANIFEST
    if not path.exists():
        return None
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ResultsError(f"{path}: not an orbitshare sweep manifest ({exc})") from None
    if not isinstance(doc, dict) or doc.get("orbitshare_sweep") != _VERSION or not isinstance(doc.get("files"), list):
        raise ResultsError(f"{path}: not an orbitshare sweep manifest (version {_VERSION})")
    return doc


def _write_manifest(out: Path, fingerprint: str, finished: bool, nsamples: int) -> None:
    doc = {
        "orbitshare_sweep": _VERSION,
        "fingerprint": fingerprint,
        "finished": finished,
        "samples": nsamples,
        "files": list(_OUTPUTS),
    }
    with atomic_path(out / SWEEP_MANIFEST, overwrite=True) as tmp:
        tmp.write_text(json.dumps(doc, indent=1) + "\n", encoding="utf-8")


@contextlib.contextmanager
def _locked(out: Path) -> Iterator[None]:
    """Hold ``out/.orbitshare-sweep.lock`` (exclusive ``flock``) while the sweep runs."""
    if sys.platform == "win32":  # pragma: no cover
        yield
        return
    fd = os.open(out / SWEEP_LOCK, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise ResultsError(f"{out}: another sweep is running in this directory") from None
        yield
    finally:
        os.close(fd)


def _owned(out: Path, manifest: dict[str, Any] | None) -> set[str]:
    names = {SWEEP_MANIFEST, SWEEP_LOCK, "samples"}
    names |= {str(n) for n in (manifest or {}).get("files", [])}
    return names


def _clear(out: Path, manifest: dict[str, Any]) -> None:
    """Delete what the sweep of ``manifest`` wrote in ``out``: its files and its samples' run directories."""
    for name in manifest["files"]:
        with contextlib.suppress(FileNotFoundError):
            (out / str(name)).unlink()
    samples = out / "samples"
    if samples.is_dir():
        for d in sorted(samples.iterdir()):
            if d.is_dir() and d.name.isdigit() and (read_manifest(d) is not None or not any(d.iterdir())):
                shutil.rmtree(d)
        with contextlib.suppress(OSError):
            samples.rmdir()


def _prepare(out: Path, fingerprint: str, nsamples: int, *, resume: bool, overwrite: bool) -> None:
    """Check what ``out`` holds against ``resume`` / ``overwrite`` (module docstring); start the manifest."""
    manifest = _read_manifest(out)
    foreign = sorted(
        p.name for p in out.iterdir() if p.name not in _owned(out, manifest) and not p.name.startswith(".")
    )
    if foreign:
        raise ResultsError(
            f"{out}: holds files of no sweep ({', '.join(foreign[:5])}); choose another --out or move them away"
        )
    if manifest is None:
        if (out / "samples").exists():
            raise ResultsError(f"{out}: holds samples/ but no {SWEEP_MANIFEST}; choose another --out")
    elif overwrite:
        _clear(out, manifest)
    elif manifest.get("finished"):
        raise ResultsError(f"{out}: holds a finished sweep; pass --overwrite to replace it, or --out DIR")
    elif not resume:
        raise ResultsError(f"{out}: holds an interrupted sweep; pass --resume to continue it, or --overwrite")
    elif manifest.get("fingerprint") != fingerprint:
        raise ResultsError(
            f"{out}: holds an interrupted sweep of another configuration (the experiment, [sweep] or an input "
            "changed); pass --overwrite to start over"
        )
    _write_manifest(out, fingerprint, False, nsamples)


def default_sweep_dir(experiment: Any) -> Path:
    """``runs/<experiment name>_sweep`` under the current directory."""
    return runner.default_out_dir(experiment).with_name(f"{experiment.name}_sweep")


# ============================================================================ running
def _finished_sample(d: Path, exp: Any) -> bool:
    """True when ``d`` holds a finished run of the configuration of ``exp``."""
    m = read_manifest(d) if d.is_dir() else None
    if m is None or not m.finished or not (d / "results.h5").is_file():
        return False
    done = load_experiment(d / "experiment.toml")
    if config_fingerprint(done) != config_fingerprint(exp):
        raise ResultsError(f"{d}: holds a finished run of another configuration; pass --overwrite to start over")
    return True


def _run_sample(exp: Any, d: Path) -> float:
    """Run one sample into ``d`` (resuming an interrupted run there); its run time, s."""
    res = runner.run(exp, d, resume=True, progress=False)
    return float(res.timings.get("total", float("nan")))


def _run_sample_task(exp: Any, d: Path) -> float:
    """One sample as a Dask task: the run on the CPU backend inside the worker (no client within a task)."""
    res = runner.run(exp, d, resume=True, progress=False, backend="cpu")
    return float(res.timings.get("total", float("nan")))


def _on_dask(exps: list[Any]) -> bool:
    """Every sample on the same Dask cluster (``[compute]`` backend "dask", same scheduler and workers)."""
    keys = {(e.compute.backend, e.compute.scheduler, e.compute.workers) for e in exps}
    return len(keys) == 1 and next(iter(keys))[0] == "dask"


def _run_all(out: Path, exps: list[Any], progress: bool) -> tuple[list[float], list[int]]:
    pr = runner.Progress(progress)
    todo = [i for i, e in enumerate(exps) if not _finished_sample(sample_dir(out, i), e)]
    skipped = [i for i in range(len(exps)) if i not in todo]
    pr.start(f"sweep ({len(exps)} samples)", total=len(exps), done=len(skipped), unit="sample")
    (out / "samples").mkdir(exist_ok=True)
    seconds = [float("nan")] * len(exps)
    done = len(skipped)
    if todo and _on_dask(exps):
        with runner._compute_client(exps[0].compute) as client:
            from distributed import as_completed  # the [dask] extra, present when the client is

            futures = {client.submit(_run_sample_task, exps[i], sample_dir(out, i), pure=False): i for i in todo}
            try:
                for fut in as_completed(futures):
                    seconds[futures[fut]] = fut.result()  # a failed sample raises here, named by the runner
                    done += 1
                    pr.update(done)
                    runner._check_stop()
            except BaseException:
                client.cancel(list(futures))
                raise
    else:
        for i in todo:
            runner._check_stop()
            seconds[i] = _run_sample(exps[i], sample_dir(out, i))
            done += 1
            pr.update(done)
    pr.done(f"{len(skipped)} found finished" if skipped else "")
    return seconds, skipped


def sweep(
    experiment: str | os.PathLike[str],
    *,
    out: str | os.PathLike[str] | None = None,
    resume: bool = False,
    overwrite: bool = False,
    progress: bool = True,
) -> SweepResults:
    """Run the sweep of the experiment file ``experiment`` (with a ``[sweep]`` table) into ``out`` (default
    ``runs/<name>_sweep``); return the :class:`SweepResults` (module docstring).

    Raises :class:`~orbitshare.errors.ConfigError` for a bad experiment or ``[sweep]`` table, or samples
    that would fail (all of them, before anything runs), :class:`~orbitshare.errors.ResultsError` for a
    sweep directory that may not be written. ``KeyboardInterrupt`` leaves the finished samples for ``resume``.
    """
    sw = read_sweep(experiment)
    _check_outputs(sw)
    bv = base_values(sw)
    d = design(sw.spec, bv)
    exps = sample_experiments(sw, d)
    out_dir = Path(os.path.abspath(out)) if out is not None else default_sweep_dir(sw.base)
    fp = _fingerprint(sw, exps)
    out_dir.mkdir(parents=True, exist_ok=True)
    with _locked(out_dir):
        _prepare(out_dir, fp, len(exps), resume=resume, overwrite=overwrite)
        seconds, skipped = _run_all(out_dir, exps, progress)
        res = _combine(out_dir, sw, d, bv, seconds, skipped)
        _write_manifest(out_dir, fp, True, len(exps))
    return res


def _check_outputs(sw: SweepFile) -> None:
    """A sweep reads each sample's groups and countries from its results.h5."""
    o = sw.base.outputs
    problems = []
    if not {"countries", "groups"} <= set(o.datasets):
        problems.append(
            f"{sw.label}: outputs.datasets: expected 'countries' and 'groups' for a sweep, got {list(o.datasets)}"
        )
    if "netcdf" not in o.files:
        problems.append(f"{sw.label}: outputs.files: expected 'netcdf' for a sweep (results.h5), got {list(o.files)}")
    if problems:
        raise ConfigError("\n".join(problems), problems=problems)


# ============================================================================ combining
def _combine(
    out: Path, sw: SweepFile, d: Design, bv: dict[str, Any], seconds: list[float], skipped: list[int]
) -> SweepResults:
    spec = sw.spec
    n = len(d.values)
    per = [combine.read_sample(sample_dir(out, i)) for i in range(n)]
    values = combine.sample_values(spec, d, bv)
    groups = combine.stack([p["groups"] for p in per], values, base=d.base, design=d.design)
    countries = combine.stack([p["countries"] for p in per], values, base=d.base, design=d.design)
    indicator = combine.headline(groups)
    files: list[Path] = []

    samples = pd.DataFrame(
        {"sample": range(n), "is_base": [i == d.base for i in range(n)], "in_design": [i in d.design for i in range(n)]}
    )
    for path, v in values.items():
        samples[path] = v
    files.append(combine.write_csv(out / "samples.csv", samples))
    tables = {}
    summaries = []
    for which in ("groups", "countries"):
        table, data = combine.long_table([p[which] for p in per], which)
        tables[which] = table
        files.append(combine.write_csv(out / f"{which}.csv", table))
        summaries.append(combine.summary_table(table, data, which, d.design, d.base))
    summary = pd.concat(summaries, ignore_index=True)
    files.append(combine.write_csv(out / "summary.csv", summary))
    robust = combine.robustness_table(groups, indicator, d.design, d.base)
    files.append(combine.write_csv(out / "robustness.csv", robust))
    ranks = combine.rank_stability(countries, indicator, d.base)
    files.append(combine.write_csv(out / "rank_stability.csv", ranks))
    idx = combine.indices(spec, d, groups, indicator)
    if idx is not None:
        files.append(combine.write_csv(out / "indices.csv", idx))

    meta = {
        "sweep_method": spec.method,
        "sweep_seed": spec.seed,
        "sweep_parameters": json.dumps(spec.to_dict()["parameters"]),
        "base_sample": d.base,
        "headline_indicator": indicator,
        "experiment_name": sw.base.name,
    }
    datasets = {"groups": groups.assign_attrs(meta), "countries": countries.assign_attrs(meta)}
    datasets["robustness"] = xr.Dataset.from_dataframe(robust.set_index("group"))
    datasets["rank_stability"] = xr.Dataset.from_dataframe(ranks.set_index("sample"))
    if idx is not None and len(idx):
        datasets["indices"] = xr.Dataset.from_dataframe(idx.set_index(["group", "parameter"]))
    save_results(datasets, out / "sweep.h5", overwrite=True, provenance={"config": sw.base.to_toml(), **meta})
    files.insert(0, out / "sweep.h5")

    tornado = sreport.write_tornado(out / "tornado.png", spec, values, groups, indicator, d.base, d.design)
    if tornado is not None:
        files.append(tornado)
    ran = [s for s in seconds if s == s]
    per_sample = sum(ran) / len(ran) if ran else float("nan")
    blocks = sreport.report_blocks(
        name=sw.base.name,
        spec=spec,
        base_values=bv,
        base=d.base,
        nsamples=n,
        indicator=indicator,
        robustness=robust,
        ranks=ranks,
        indices=idx,
        tornado=tornado.name if tornado else None,
        seconds_per_sample=per_sample,
        design=d.design,
    )
    files += sreport.write_report(out, blocks, f"orbitshare sweep report: {sw.base.name}")
    return SweepResults(
        out_dir=out,
        spec=spec,
        values=values,
        base=d.base,
        design=d.design,
        indicator=indicator,
        groups=groups,
        countries=countries,
        summary=summary,
        robustness=robust,
        rank_stability=ranks,
        indices=idx,
        seconds=seconds,
        skipped=skipped,
        files=files,
    )
