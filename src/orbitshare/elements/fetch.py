"""Download CelesTrak GP element sets into a local cache (urllib only).

CelesTrak asks clients not to download the same GP data more than once every two hours;
:func:`fetch_group` reuses a cached copy younger than ``max_age_s`` (default 7200 s).

Environment variables:

* ``ORBITSHARE_CACHE_DIR``: cache directory (default ``platformdirs.user_cache_dir("orbitshare")/celestrak``).
* ``ORBITSHARE_CELESTRAK_URL``: replaces the default ``base_url``.
"""

from __future__ import annotations

import os
import re
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import platformdirs

from orbitshare._version import __version__
from orbitshare.atomic import atomic_path
from orbitshare.elements.elementset import ElementSet
from orbitshare.elements.read import load_elements, parse_elements
from orbitshare.errors import DataError, ElementSetError, ParameterError

__all__ = ["DEFAULT_BASE_URL", "default_cache_dir", "fetch_group", "fetch_elements"]

DEFAULT_BASE_URL = "https://celestrak.org/NORAD/elements/gp.php"
_GROUP_RE = re.compile(r"[A-Za-z0-9_-]{1,64}", re.ASCII)
_FORMATS = {"csv": "csv", "json": "json", "xml": "xml", "tle": "tle"}  # ours -> CelesTrak's


def default_cache_dir() -> Path:
    """``$ORBITSHARE_CACHE_DIR`` or ``platformdirs.user_cache_dir("orbitshare")/celestrak``."""
    env = os.environ.get("ORBITSHARE_CACHE_DIR")
    if env:
        return Path(env)
    return Path(platformdirs.user_cache_dir("orbitshare")) / "celestrak"


def fetch_group(
    group: str,
    *,
    cache_dir: str | os.PathLike[str] | None = None,
    max_age_s: float = 7200.0,
    base_url: str = DEFAULT_BASE_URL,
    format: str = "csv",
    timeout_s: float = 60.0,
) -> Path:
    """Path of a cached CelesTrak GP file ``<group>.<format>``, downloading it when missing
    or older than ``max_age_s`` seconds from ``<base_url>?GROUP=<group>&FORMAT=<format>``.

    ``format``: "csv", "json", "xml" or "tle". ``base_url`` defaults to
    ``$ORBITSHARE_CELESTRAK_URL`` when set, else CelesTrak. The payload must parse as
    element sets before it atomically replaces the cached file. Raises ParameterError (a
    ValueError) for a bad group name/format/max_age_s/base_url and DataError for HTTP/network failures and payloads
    that are not element data (e.g. CelesTrak's "No GP data found"); the cache is then
    left untouched.
    """
    if not isinstance(group, str) or not _GROUP_RE.fullmatch(group):
        raise ParameterError(f"CelesTrak group name must be 1-64 letters, digits, '-' or '_', got {group!r}")
    fmt = format.lower()
    if fmt not in _FORMATS:
        raise ParameterError(f"format must be one of {', '.join(_FORMATS)}, got {format!r}")
    if not max_age_s >= 0:
        raise ParameterError(f"max_age_s must be >= 0, got {max_age_s!r}")
    if base_url == DEFAULT_BASE_URL:
        base_url = os.environ.get("ORBITSHARE_CELESTRAK_URL") or DEFAULT_BASE_URL
    scheme = urllib.parse.urlsplit(base_url).scheme.lower()
    if scheme not in ("http", "https"):
        raise ParameterError(f"base_url must be an http(s) URL, got {base_url!r}")

    cdir = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    target = cdir / f"{group}.{fmt}"
    try:
        age = time.time() - target.stat().st_mtime
    except FileNotFoundError:
        age = None
    if age is not None and age < max_age_s:
        return target

    query = urllib.parse.urlencode({"GROUP": group, "FORMAT": _FORMATS[fmt]})
    url = f"{base_url}{'&' if '?' in base_url else '?'}{query}"
    stale = f" (a stale cached copy remains at {target})" if age is not None else ""
    request = urllib.request.Request(url, headers={"User-Agent": f"orbitshare/{__version__}"})
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as resp:  # noqa: S310 (scheme checked)
            payload = resp.read()
    except urllib.error.HTTPError as exc:
        raise DataError(f"CelesTrak download {url} failed: HTTP {exc.code} {exc.reason}{stale}") from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise DataError(f"CelesTrak download {url} failed: {reason}{stale}") from None

    head = payload[:200].decode("utf-8", "replace").strip()
    if not head or head.lower().startswith("no gp data found"):
        raise DataError(f"CelesTrak has no GP data for group {group!r} ({url} answered {head[:80]!r}){stale}")
    try:
        parse_elements(payload, format=fmt, source=url)
    except ElementSetError as exc:
        raise DataError(f"CelesTrak download {url} is not {fmt.upper()} element data: {exc}{stale}") from None

    cdir.mkdir(parents=True, exist_ok=True)
    with atomic_path(target, overwrite=True, suffix=".part") as tmp:
        tmp.write_bytes(payload)
    return target


def fetch_elements(group: str, **kw: object) -> ElementSet:
    """:func:`fetch_group` then :func:`~orbitshare.elements.read.load_elements` of the cached file."""
    fmt = kw.get("format", "csv")
    return load_elements(fetch_group(group, **kw), format=str(fmt))  # type: ignore[arg-type]
