"""The ``orbitshare`` command.

Exit codes: 0 done, 2 usage or input error, 1 runtime error. Errors are one line on stderr;
``--debug`` shows the traceback.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from .errors import ConfigError, DataError, ElementSetError, OrbitshareError

EXIT_OK, EXIT_RUNTIME, EXIT_USAGE = 0, 1, 2


def _shipped_systems(tle_dir: Path | None):
    """The shipped filed systems: tle/*.tle listed in tle/MANIFEST, or regenerated from the filings table."""
    from .elements import load_elements
    from .filings import filing_systems, filing_elements

    if tle_dir is not None and (tle_dir / "MANIFEST").is_file():
        out = []
        for line in (tle_dir / "MANIFEST").read_text().splitlines():
            if not line.strip() or line.startswith("#") or line.startswith("file"):
                continue
            name = line.split("\t")[0].split(",")[0].strip()
            out.append((Path(name).stem, load_elements(tle_dir / name)))
        if out:
            return out, str(tle_dir)
    return [(s, filing_elements(s)) for s in filing_systems()], "the filings table (generated in memory)"


def cmd_run(args) -> int:
    import numpy as np

    from .propagation import iter_propagate
    from .timegrid import time_grid

    if args.experiment is not None:
        raise ConfigError(
            f"{args.experiment}: experiment files are not supported yet; run without an argument for the default job"
        )
    tle_dir = Path(args.tle_dir) if args.tle_dir else Path.cwd() / "tle"
    systems, origin = _shipped_systems(tle_dir if tle_dir.is_dir() else None)
    times = time_grid(args.start, args.stop, args.step_s)
    t0 = time.perf_counter()
    total_sats = 0
    parts = []
    for name, es in systems:
        alt_sum, alt_n, n_err = 0.0, 0, 0
        for _chunk, e, r, _v in iter_propagate(es, times, args.chunk_steps, frame="itrs"):
            ok = e == 0
            alt_sum += float((np.linalg.norm(r[ok], axis=-1) - 6378.137).sum())
            alt_n += int(ok.sum())
            n_err += int((~ok).sum())
        total_sats += len(es)
        mean_alt = alt_sum / alt_n if alt_n else float("nan")
        parts.append(f"{name} {len(es)} sats, mean alt {mean_alt:.0f} km, {n_err} error steps")
    dt = time.perf_counter() - t0
    print(
        f"orbitshare: propagated {total_sats} satellites of {len(systems)} filed systems from {origin} "
        f"over {len(times)} steps ({args.start} to {args.stop}, {args.step_s:g} s) in ITRS in {dt:.1f} s "
        f"[{'; '.join(parts)}]"
    )
    return EXIT_OK


def cmd_info(args) -> int:
    import numba
    import numpy as np

    from . import __version__
    from .timegrid import EPHEMERIS_FILE, FINALS_FILE, data_kernel_path

    lines = [f"orbitshare {__version__}", f"python {sys.version.split()[0]}", f"numpy {np.__version__}",
             f"numba {numba.__version__}"]
    for mod in ("sgp4", "skyfield", "xarray", "h5py", "h5netcdf"):
        try:
            lines.append(f"{mod} {__import__(mod).__version__}")
        except Exception as exc:  # pragma: no cover - reported, not raised
            lines.append(f"{mod} unavailable ({exc})")
    lines.append(f"threads {numba.get_num_threads()} (NUMBA_NUM_THREADS to change)")
    try:
        from .kernels.frames import gmst1982

        gmst1982(2451545.0, 0.0)
        lines.append(f"numba threading layer {numba.threading_layer()}")
    except Exception:
        lines.append("numba threading layer not initialised")
    for name in (FINALS_FILE, EPHEMERIS_FILE):
        try:
            lines.append(f"data kernel {name}: {data_kernel_path(name)}")
        except DataError as exc:
            lines.append(f"data kernel {name}: missing ({exc})")
    try:
        from numba import cuda

        lines.append(f"cuda {'available' if cuda.is_available() else 'not available'}")
    except Exception as exc:
        lines.append(f"cuda not available ({exc.__class__.__name__})")
    print("\n".join(lines))
    return EXIT_OK


def cmd_elements_fetch(args) -> int:
    from .fetch import fetch_group

    path = fetch_group(args.group, cache_dir=args.cache_dir, max_age_s=args.max_age_s, format=args.format)
    print(path)
    return EXIT_OK


def cmd_elements_generate(args) -> int:
    from .filings import generate_tle_dir

    for p in generate_tle_dir(args.out_dir, epoch=args.epoch):
        print(p)
    return EXIT_OK


def cmd_elements_info(args) -> int:
    from .elements import load_elements

    es = load_elements(args.path, errors=args.errors)
    lo, med, hi = es.epoch_stats()
    print(f"{args.path}: {len(es)} element sets, epochs {lo} / {med} / {hi} (min / median / max), "
          f"{len(es.skipped)} skipped, {len(es.duplicates)} duplicates dropped")
    for rec in es.skipped:
        print(f"  skipped: {rec}")
    return EXIT_OK


def cmd_elements_convert(args) -> int:
    from .elements import load_elements

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

    r = sub.add_parser("run", help="run the main job (default: propagate the shipped filed systems for one day)")
    r.add_argument("experiment", nargs="?", help="experiment file (not supported yet)")
    r.add_argument("--tle-dir", help="directory of shipped element sets (default ./tle, else the filings table)")
    r.add_argument("--start", default="2026-01-01T00:00:00Z", help="UTC start with timezone")
    r.add_argument("--stop", default="2026-01-02T00:00:00Z", help="UTC stop (excluded) with timezone")
    r.add_argument("--step-s", type=float, default=60.0, help="time step in seconds")
    r.add_argument("--chunk-steps", type=int, default=60, help="time steps held in memory at once")
    r.set_defaults(func=cmd_run)

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


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except (ConfigError, ElementSetError, ValueError, FileNotFoundError) as exc:
        if args.debug:
            raise
        print(f"orbitshare: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except (OrbitshareError, OSError) as exc:
        if args.debug:
            raise
        print(f"orbitshare: error: {exc}", file=sys.stderr)
        return EXIT_RUNTIME
    except KeyboardInterrupt:
        print("orbitshare: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
