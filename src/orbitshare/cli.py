"""The ``orbitshare`` command.

Exit codes:

* 0: done (also ``orbitshare --version``, which prints ``orbitshare <version>``);
* 2: usage or input error: a command line argparse refuses, or any
  :class:`~orbitshare.errors.OrbitshareError` (a bad experiment, element file, run directory, ...),
  reported in one line on stderr (a :class:`~orbitshare.errors.ConfigError`: its problem lines,
  ``file: key.path: message``);
* 1: internal error: any other exception is a bug (or an environment failure) of orbitshare; one
  line on stderr says so and names the file its traceback was written to, under
  :func:`traceback_dir` (``$ORBITSHARE_CACHE_DIR/tracebacks``, default
  ``platformdirs.user_cache_dir("orbitshare")/tracebacks``);
* 130: interrupted (SIGINT/SIGTERM; a run keeps its last checkpoint for ``--resume``).

``--debug`` prints the traceback on stderr (before the same one-line message and exit code)
instead of writing it to a file.

Verbosity (before or after the sub-command): ``-q`` / ``--quiet`` warnings and errors only, no progress;
the default adds the stages and where the files went; ``-v`` / ``--verbose`` adds the sizes and each
stage's time (:mod:`orbitshare.log`). Progress bars (:mod:`orbitshare.progress`) are ``tqdm`` bars on a
terminal and plain lines otherwise.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import math
import os
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numba
import numpy as np
import platformdirs

from orbitshare._version import __version__
from orbitshare.atomic import atomic_path
from orbitshare.elements.fetch import fetch_group
from orbitshare.elements.filings import generate_tle_dir
from orbitshare.elements.read import load_elements
from orbitshare.errors import ConfigError, DataError, OrbitshareError
from orbitshare.experiment import load_experiment, validate_experiment
from orbitshare.kernels.cuda_env import cuda_info
from orbitshare.kernels.frames import gmst1982
from orbitshare.log import configure_logging, get_logger
from orbitshare.report.tables import write_csv_rows
from orbitshare.runner import compare_runs, dry_run, install_signal_handlers, run
from orbitshare.sensitivity import sweep
from orbitshare.timegrid import EPHEMERIS_FILE, FINALS_FILE, data_kernel_path

__all__ = ["main", "build_parser", "traceback_dir", "EXIT_OK", "EXIT_INTERNAL", "EXIT_USAGE", "EXIT_INTERRUPTED"]

EXIT_OK, EXIT_INTERNAL, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130

_log = get_logger("cli")


def _verbosity(args: argparse.Namespace) -> int:
    """``-v`` count minus ``-q`` count (given before or after the sub-command)."""
    return int(getattr(args, "verbose", 0) or 0) - int(getattr(args, "quiet", 0) or 0)


def _input_file(path: str, what: str = "file") -> Path:
    """``path`` as a Path, or :class:`~orbitshare.errors.DataError` when it is not a file."""
    p = Path(path)
    if not p.is_file():
        raise DataError(f"{path}: {what} not found" if not p.exists() else f"{path}: not a file")
    return p


def _output_dir(path: str) -> None:
    """:class:`~orbitshare.errors.DataError` unless the directory ``path`` would be written to exists."""
    d = Path(path).parent
    if not d.is_dir():
        raise DataError(f"{path}: directory {d} does not exist")


def cmd_estimate(args: argparse.Namespace) -> int:
    """``orbitshare estimate [EXPERIMENT.toml]`` (``orbitshare run --dry-run``): the cells, steps, satellites,
    systems, memory, output and expected time of a run, on stdout; nothing is computed or written."""
    est = dry_run(args.experiment, getattr(args, "out", None))
    print("\n".join(est.lines()))
    return EXIT_OK


def cmd_run(args: argparse.Namespace) -> int:
    """``orbitshare run [EXPERIMENT.toml]``: run an experiment into its run directory."""
    if args.dry_run:
        return cmd_estimate(args)
    exp = load_experiment(args.experiment)
    if exp.estimate is not None:
        e = exp.estimate
        _log.debug("%s: %d cells, %d steps, %d satellites; %s", exp.name, e.cells, e.steps, e.satellites, e.summary())
    restore = install_signal_handlers()  # SIGINT/SIGTERM: stop after the next checkpoint
    try:
        res = run(exp, args.out, overwrite=args.overwrite, resume=args.resume, progress=_verbosity(args) >= 0)
    finally:
        restore()
    for p in res.files:
        print(p)
    if res.up_to_date:
        _log.info(
            "%s: up to date in %s (a finished run of the same experiment, inputs and orbitshare version); "
            "pass --overwrite to run it again",
            exp.name,
            res.out_dir,
        )
    else:
        _log.info(
            "%s: finished in %.1f s into %s%s",
            exp.name,
            res.timings.get("total", 0.0),
            res.out_dir,
            f" (resumed after {res.resumed_chunks} chunk(s))" if res.resumed_chunks else "",
        )
        _log.debug(
            "%s: stages: %s",
            exp.name,
            ", ".join(f"{k} {v:.2f} s" for k, v in res.timings.items() if k != "total"),
        )
    return EXIT_OK


def cmd_sweep(args: argparse.Namespace) -> int:
    """``orbitshare sweep EXPERIMENT.toml``: run every sample of the experiment's ``[sweep]``, then combine them."""
    restore = install_signal_handlers()  # SIGINT/SIGTERM: stop after the current sample's next checkpoint
    try:
        res = sweep(
            args.experiment,
            out=args.out,
            resume=args.resume,
            overwrite=args.overwrite,
            progress=_verbosity(args) >= 0,
        )
    finally:
        restore()
    for p in res.files:
        print(p)
    skipped = f" ({len(res.skipped)} found finished)" if res.skipped else ""
    _log.info("sweep of %d samples%s into %s", res.nsamples, skipped, res.out_dir)
    return EXIT_OK


def cmd_validate(args: argparse.Namespace) -> int:
    """``orbitshare validate EXPERIMENT.toml``: print the resolved configuration (stdout) and the run's
    estimated peak memory and output size (stderr, one line)."""
    exp = validate_experiment(args.experiment, deep=True)
    sys.stdout.write(exp.to_toml())
    if exp.estimate is not None:
        print(f"orbitshare: {exp.name}: {exp.estimate.summary()}", file=sys.stderr)
    return EXIT_OK


def _fmt(x: Any) -> str:
    if isinstance(x, float):
        if math.isnan(x):
            return "nan"
        return f"{x:.6g}"
    return str(x)


def cmd_compare(args: argparse.Namespace) -> int:
    """``orbitshare compare RUN_A RUN_B``: differences of two runs, on stdout and in compare.csv."""
    rows = compare_runs(args.run_a, args.run_b)
    out_dir = Path(args.out) if args.out else Path.cwd()
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "compare.csv"
    cols = ["dataset", "variable", "where", "a", "b", "diff", "rel_diff"]
    with atomic_path(path, overwrite=True) as tmp, open(tmp, "w", newline="", encoding="utf-8") as f:
        write_csv_rows(f, cols, ([_fmt(r[c]) for c in cols] for r in rows))
    diff = [r for r in rows if not r["equal"]]
    diff.sort(
        key=lambda r: (
            r["dataset"] != "equity",
            -abs(r["rel_diff"])
            if r["rel_diff"] == r["rel_diff"]
            else -float("inf")
            if r["diff"] != r["diff"]
            else -abs(r["diff"]),
        )
    )
    print(f"{args.run_a} (a) vs {args.run_b} (b): {len(diff)} of {len(rows)} values differ")
    if diff:
        shown = diff[: args.rows]
        table = [cols] + [[_fmt(r[c]) for c in cols] for r in shown]
        widths = [max(len(t[k]) for t in table) for k in range(len(cols))]
        for t in table:
            print("  ".join(v.ljust(w) for v, w in zip(t, widths, strict=True)).rstrip())
        if len(diff) > len(shown):
            print(f"... {len(diff) - len(shown)} more in {path}")
    print(path)
    return EXIT_OK


def cmd_info(args: argparse.Namespace) -> int:
    """``orbitshare info``: versions, threads, data kernels, CUDA."""
    lines = [
        f"orbitshare {__version__}",
        f"python {sys.version.split()[0]}",
        f"numpy {np.__version__}",
        f"numba {numba.__version__}",
    ]
    for mod in ("sgp4", "skyfield", "xarray", "h5py", "h5netcdf"):
        try:
            lines.append(f"{mod} {__import__(mod).__version__}")
        except Exception as exc:  # pragma: no cover - reported, not raised
            lines.append(f"{mod} unavailable ({exc})")
    lines.append(f"threads {numba.get_num_threads()} (NUMBA_NUM_THREADS to change)")
    try:
        gmst1982(2451545.0, 0.0)
        lines.append(f"numba threading layer {numba.threading_layer()}")
    except Exception:
        lines.append("numba threading layer not initialised")
    for name in (FINALS_FILE, EPHEMERIS_FILE):
        try:
            lines.append(f"data kernel {name}: {data_kernel_path(name)}")
        except DataError as exc:
            lines.append(f"data kernel {name}: missing ({exc})")
    lines.append(cuda_info())
    print("\n".join(lines))
    return EXIT_OK


def cmd_elements_fetch(args: argparse.Namespace) -> int:
    """``orbitshare elements fetch GROUP``: CelesTrak GP data into the cache."""
    path = fetch_group(args.group, cache_dir=args.cache_dir, max_age_s=args.max_age_s, format=args.format)
    print(path)
    return EXIT_OK


def cmd_elements_generate(args: argparse.Namespace) -> int:
    """``orbitshare elements generate-filings [OUT_DIR]``: the filed systems' element sets."""
    for p in generate_tle_dir(args.out_dir, epoch=args.epoch):
        print(p)
    return EXIT_OK


def cmd_elements_info(args: argparse.Namespace) -> int:
    """``orbitshare elements info PATH``: count, epochs, skipped records of an element file."""
    es = load_elements(_input_file(args.path, "element file"), errors=args.errors)
    if len(es):
        lo, med, hi = es.epoch_stats()
        epochs = f"epochs {lo} / {med} / {hi} (min / median / max)"
    else:  # --errors skip on a file whose every record is malformed
        epochs = "no epochs"
    print(
        f"{args.path}: {len(es)} element sets, {epochs}, "
        f"{len(es.skipped)} skipped, {len(es.duplicates)} duplicates dropped"
    )
    for rec in es.skipped:
        print(f"  skipped: {rec}")
    return EXIT_OK


def cmd_elements_convert(args: argparse.Namespace) -> int:
    """``orbitshare elements convert SOURCE DEST --format F``: TLE ⇄ OMM (csv, json, xml)."""
    es = load_elements(_input_file(args.source, "element file"), errors=args.errors)
    _output_dir(args.dest)
    if args.format == "tle":
        es.to_tle(args.dest)
    else:
        es.to_omm(args.dest, format=args.format)
    print(args.dest)
    return EXIT_OK


def _verbosity_options(parser: argparse.ArgumentParser, sub: bool = True) -> None:
    """``-v/--verbose`` and ``-q/--quiet`` (counted) on ``parser``; on a sub-command they add to the
    main parser's (``argparse.SUPPRESS``: a sub-command's default must not reset them)."""
    default: Any = argparse.SUPPRESS if sub else 0
    parser.add_argument(
        "-v", "--verbose", action="count", default=default, help="more messages on stderr (sizes, stage times)"
    )
    parser.add_argument(
        "-q", "--quiet", action="count", default=default, help="warnings and errors only on stderr, no progress"
    )


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``orbitshare`` command (each sub-command sets ``func``)."""
    p = argparse.ArgumentParser(prog="orbitshare", description="How equitably the world shares orbit and spectrum.")
    p.add_argument("--version", action="version", version=f"orbitshare {__version__}")
    p.add_argument("--debug", action="store_true", help="print tracebacks on stderr")
    _verbosity_options(p, sub=False)
    sub = p.add_subparsers(dest="command", required=True)

    r = sub.add_parser("run", help="run an experiment (default: the embedded default experiment)")
    r.add_argument("experiment", nargs="?", help="experiment file (TOML); default: the embedded default")
    r.add_argument("--out", help="run directory (default: runs/<experiment name> in the current directory)")
    r.add_argument("--overwrite", action="store_true", help="replace an existing run in the run directory")
    r.add_argument("--resume", action="store_true", help="continue an interrupted run from its checkpoint")
    r.add_argument(
        "--dry-run",
        action="store_true",
        help="print the sizes, memory, output and expected time of the run; compute and write nothing",
    )
    _verbosity_options(r)
    r.set_defaults(func=cmd_run)

    sw = sub.add_parser("sweep", help="run the samples of an experiment's [sweep] and combine them")
    sw.add_argument("experiment", help="experiment file (TOML) with a [sweep] table")
    sw.add_argument("--out", help="sweep directory (default: runs/<experiment name>_sweep in the current directory)")
    sw.add_argument("--overwrite", action="store_true", help="replace an existing sweep in the sweep directory")
    sw.add_argument("--resume", action="store_true", help="continue an interrupted sweep (finished samples are kept)")
    _verbosity_options(sw)
    sw.set_defaults(func=cmd_sweep)

    est = sub.add_parser(
        "estimate", help="sizes, memory, output and expected time of a run, without running it (run --dry-run)"
    )
    est.add_argument("experiment", nargs="?", help="experiment file (TOML); default: the embedded default")
    est.add_argument("--out", help="run directory it would write (default: runs/<experiment name>)")
    est.set_defaults(func=cmd_estimate)

    v = sub.add_parser("validate", help="validate an experiment file and print the resolved configuration")
    v.add_argument("experiment")
    v.set_defaults(func=cmd_validate)

    cmp_ = sub.add_parser("compare", help="differences per country and in the equity indices of two runs")
    cmp_.add_argument("run_a")
    cmp_.add_argument("run_b")
    cmp_.add_argument("--out", help="directory for compare.csv (default: the current directory)")
    cmp_.add_argument("--rows", type=int, default=40, help="rows of the table on stdout (default 40)")
    cmp_.set_defaults(func=cmd_compare)

    i = sub.add_parser("info", help="versions, threads, data kernels, CUDA")
    i.set_defaults(func=cmd_info)

    el = sub.add_parser("elements", help="element-set tools")
    esub = el.add_subparsers(dest="elements_command", required=True)
    f = esub.add_parser("fetch", help="download CelesTrak GP data (OMM) for a group into the cache")
    f.add_argument("group")
    f.add_argument("--cache-dir")
    f.add_argument("--max-age-s", type=float, default=7200.0)
    f.add_argument("--format", default="csv", choices=("csv", "json", "xml", "tle"))
    f.set_defaults(func=cmd_elements_fetch)
    g = esub.add_parser("generate-filings", help="write tle/ element sets of the filed systems + MANIFEST")
    g.add_argument("out_dir", nargs="?", default="tle")
    g.add_argument("--epoch", default="2026-01-01T00:00:00Z")
    g.set_defaults(func=cmd_elements_generate)
    s = esub.add_parser("info", help="summarize an element file")
    s.add_argument("path")
    s.add_argument("--errors", default="raise", choices=("raise", "skip"))
    s.set_defaults(func=cmd_elements_info)
    c = esub.add_parser("convert", help="convert between TLE and OMM (csv, json, xml)")
    c.add_argument("source")
    c.add_argument("dest")
    c.add_argument("--format", required=True, choices=("tle", "csv", "json", "xml"))
    c.add_argument("--errors", default="raise", choices=("raise", "skip"))
    c.set_defaults(func=cmd_elements_convert)
    return p


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


def traceback_dir() -> Path:
    """Where internal errors leave their tracebacks: ``$ORBITSHARE_CACHE_DIR/tracebacks``, else
    ``platformdirs.user_cache_dir("orbitshare")/tracebacks``."""
    env = os.environ.get("ORBITSHARE_CACHE_DIR")
    base = Path(env) if env else Path(platformdirs.user_cache_dir("orbitshare"))
    return base / "tracebacks"


def _write_traceback(exc: BaseException, argv: Sequence[str]) -> Path:
    """Write the traceback of ``exc`` (with the version and command line) to a new file under
    :func:`traceback_dir`, named by the UTC time and process id; return its path."""
    directory = traceback_dir()
    directory.mkdir(parents=True, exist_ok=True)
    stamp = _dt.datetime.now(_dt.UTC).strftime("%Y%m%dT%H%M%S.%fZ")
    path = directory / f"{stamp}-{os.getpid()}.txt"
    head = f"orbitshare {__version__}, python {sys.version.split()[0]}\ncommand: orbitshare {' '.join(argv)}\n\n"
    with open(path, "x", encoding="utf-8") as f:
        f.write(head + "".join(traceback.format_exception(exc)))
    return path


def _report(exc: BaseException, debug: bool) -> None:
    """The one-line message of an OrbitshareError (a ConfigError: its problem lines)."""
    if debug:
        traceback.print_exception(exc, file=sys.stderr)
    problems = getattr(exc, "problems", None) if isinstance(exc, ConfigError) else None
    if problems:  # the validation's own lines: "file: key: expected ..., got ..."
        for line in problems:
            print(line, file=sys.stderr)
    else:
        print(f"orbitshare: error: {_one_line(exc)}", file=sys.stderr)


def _report_internal(exc: BaseException, debug: bool, argv: Sequence[str]) -> None:
    """One line saying an internal error happened and where its traceback went."""
    what = f"orbitshare: internal error: {type(exc).__name__}: {_one_line(exc)}"
    if debug:
        traceback.print_exception(exc, file=sys.stderr)
        print(f"{what} (traceback above)", file=sys.stderr)
        return
    try:
        path = _write_traceback(exc, argv)
    except OSError as err:
        where = f"the traceback could not be written ({_one_line(err)}); rerun with --debug to see it"
    else:
        where = f"traceback written to {path} (--debug prints it)"
    print(f"{what}; {where}", file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``orbitshare`` command with ``argv`` (default ``sys.argv[1:]``); return the exit code
    (module docstring): 0 done, 2 usage or input error, 1 internal error, 130 interrupted."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version (0) and usage errors (2), already printed
        return EXIT_OK if exc.code is None else exc.code if isinstance(exc.code, int) else EXIT_USAGE
    configure_logging(_verbosity(args))
    try:
        return int(args.func(args))
    except OrbitshareError as exc:
        _report(exc, args.debug)
        return EXIT_USAGE
    except KeyboardInterrupt:
        hint = ""
        if getattr(args, "command", None) == "run":
            hint = "; continue with the same command and --resume"
        print(f"orbitshare: interrupted{hint}", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as exc:
        _report_internal(exc, args.debug, argv)
        return EXIT_INTERNAL


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
