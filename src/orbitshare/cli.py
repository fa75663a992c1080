"""The ``orbitshare`` command.

Exit codes: 0 done, 2 usage or input error, 1 runtime error. Errors are one line on stderr;
``--debug`` shows the traceback.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from orbitshare.errors import ConfigError, DataError, ElementSetError

EXIT_OK, EXIT_RUNTIME, EXIT_USAGE = 0, 1, 2


def cmd_run(args) -> int:
    from orbitshare.experiment.config import load_experiment
    from orbitshare.runner import install_signal_handlers, run

    exp = load_experiment(args.experiment)
    restore = install_signal_handlers()  # SIGINT/SIGTERM: stop after the next checkpoint
    try:
        res = run(exp, args.out, overwrite=args.overwrite, resume=args.resume, progress=not args.quiet)
    finally:
        restore()
    for p in res.files:
        print(p)
    if not args.quiet:
        print(
            f"orbitshare: {exp.name}: finished in {res.timings.get('total', 0.0):.1f} s into {res.out_dir}"
            + (f" (resumed after {res.resumed_chunks} chunk(s))" if res.resumed_chunks else ""),
            file=sys.stderr,
        )
    return EXIT_OK


def cmd_validate(args) -> int:
    from orbitshare.experiment.config import validate_experiment

    exp = validate_experiment(args.experiment, deep=True)
    sys.stdout.write(exp.to_toml())
    return EXIT_OK


def _fmt(x) -> str:
    import math

    if isinstance(x, float):
        if math.isnan(x):
            return "nan"
        return f"{x:.6g}"
    return str(x)


def cmd_compare(args) -> int:
    import csv

    from orbitshare.io import atomic_path
    from orbitshare.runner import compare_runs

    rows = compare_runs(args.run_a, args.run_b)
    out_dir = Path(args.out) if args.out else Path.cwd()
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "compare.csv"
    cols = ["dataset", "variable", "where", "a", "b", "diff", "rel_diff"]
    with atomic_path(path, overwrite=True) as tmp, open(tmp, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(cols)
        for r in rows:
            w.writerow([_fmt(r[c]) for c in cols])
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
            print("  ".join(v.ljust(w) for v, w in zip(t, widths)).rstrip())
        if len(diff) > len(shown):
            print(f"... {len(diff) - len(shown)} more in {path}")
    print(path)
    return EXIT_OK


def cmd_info(args) -> int:
    import numba
    import numpy as np

    from orbitshare._version import __version__
    from orbitshare.timegrid import EPHEMERIS_FILE, FINALS_FILE, data_kernel_path

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
        from orbitshare.kernels.frames import gmst1982

        gmst1982(2451545.0, 0.0)
        lines.append(f"numba threading layer {numba.threading_layer()}")
    except Exception:
        lines.append("numba threading layer not initialised")
    for name in (FINALS_FILE, EPHEMERIS_FILE):
        try:
            lines.append(f"data kernel {name}: {data_kernel_path(name)}")
        except DataError as exc:
            lines.append(f"data kernel {name}: missing ({exc})")
    from orbitshare.kernels.cuda_env import cuda_info

    lines.append(cuda_info())
    print("\n".join(lines))
    return EXIT_OK


def cmd_elements_fetch(args) -> int:
    from orbitshare.elements.fetch import fetch_group

    path = fetch_group(args.group, cache_dir=args.cache_dir, max_age_s=args.max_age_s, format=args.format)
    print(path)
    return EXIT_OK


def cmd_elements_generate(args) -> int:
    from orbitshare.elements.filings import generate_tle_dir

    for p in generate_tle_dir(args.out_dir, epoch=args.epoch):
        print(p)
    return EXIT_OK


def cmd_elements_info(args) -> int:
    from orbitshare.elements.elementset import load_elements

    es = load_elements(args.path, errors=args.errors)
    lo, med, hi = es.epoch_stats()
    print(
        f"{args.path}: {len(es)} element sets, epochs {lo} / {med} / {hi} (min / median / max), "
        f"{len(es.skipped)} skipped, {len(es.duplicates)} duplicates dropped"
    )
    for rec in es.skipped:
        print(f"  skipped: {rec}")
    return EXIT_OK


def cmd_elements_convert(args) -> int:
    from orbitshare.elements.elementset import load_elements

    es = load_elements(args.source, errors=args.errors)
    if args.format == "tle":
        es.to_tle(args.dest)
    else:
        es.to_omm(args.dest, format=args.format)
    print(args.dest)
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="orbitshare", description="How equitably the world shares orbit and spectrum.")
    p.add_argument("--debug", action="store_true", help="show tracebacks")
    sub = p.add_subparsers(dest="command", required=True)

    r = sub.add_parser("run", help="run an experiment (default: the embedded default experiment)")
    r.add_argument("experiment", nargs="?", help="experiment file (TOML); default: the embedded default")
    r.add_argument("--out", help="run directory (default: runs/<experiment name> in the current directory)")
    r.add_argument("--overwrite", action="store_true", help="replace an existing run in the run directory")
    r.add_argument("--resume", action="store_true", help="continue an interrupted run from its checkpoint")
    r.add_argument("--quiet", action="store_true", help="no progress on stderr")
    r.set_defaults(func=cmd_run)

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


def _one_line(exc) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except ConfigError as exc:
        if args.debug:
            raise
        problems = getattr(exc, "problems", None)
        if problems:  # the validation's own lines: "file: key: expected ..., got ..."
            for line in problems:
                print(line, file=sys.stderr)
        else:
            print(f"orbitshare: error: {_one_line(exc)}", file=sys.stderr)
        return EXIT_USAGE
    except (ElementSetError, ValueError, FileNotFoundError) as exc:
        if args.debug:
            raise
        print(f"orbitshare: error: {_one_line(exc)}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        hint = ""
        if getattr(args, "command", None) == "run":
            hint = "; continue with the same command and --resume"
        print(f"orbitshare: interrupted{hint}", file=sys.stderr)
        return 130
    except Exception as exc:
        if args.debug:
            raise
        print(
            f"orbitshare: error: {_one_line(exc)} ({type(exc).__name__}; --debug shows the traceback)", file=sys.stderr
        )
        return EXIT_RUNTIME


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
