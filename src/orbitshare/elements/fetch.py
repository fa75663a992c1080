"""Download CelesTrak GP element sets into a local cache (urllib only).

CelesTrak asks clients not to download the same GP data more than once every two hours;
:func:`fetch_group` reuses a cached copy younger than ``max_age_s`` (default 7200 s).

Downloads are bounded: a payload larger than ``max_bytes`` (:data:`~orbitshare.elements.read.MAX_TEXT_BYTES`
by default) is refused while it streams in, and the whole request (headers and body, once
connected) must finish within ``deadline_s`` seconds (:data:`DEFAULT_DEADLINE_S`), whatever
pace the server keeps; ``timeout_s`` bounds each connect and each read on its own.

Environment variables:

* ``ORBITSHARE_CACHE_DIR``: cache directory (default ``platformdirs.user_cache_dir("orbitshare")/celestrak``).
* ``ORBITSHARE_CELESTRAK_URL``: replaces the default ``base_url``.
"""

from __future__ import annotations

import contextlib
import http.client
import math
import os
import re
import socket
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import platformdirs

from orbitshare._version import __version__
from orbitshare.atomic import atomic_path
from orbitshare.elements.elementset import ElementSet
from orbitshare.elements.read import MAX_TEXT_BYTES, load_elements, parse_elements
from orbitshare.errors import DataError, ElementSetError, ParameterError

__all__ = ["DEFAULT_BASE_URL", "DEFAULT_DEADLINE_S", "default_cache_dir", "fetch_group", "fetch_elements"]

#: Default overall deadline of one download, in seconds (headers and body, once connected).
DEFAULT_DEADLINE_S = 300.0
_READ_BYTES = 64 * 1024  # at most one socket read per step

DEFAULT_BASE_URL = "https://celestrak.org/NORAD/elements/gp.php"
_GROUP_RE = re.compile(r"[A-Za-z0-9_-]{1,64}", re.ASCII)
_FORMATS = {"csv": "csv", "json": "json", "xml": "xml", "tle": "tle"}  # ours -> CelesTrak's


def default_cache_dir() -> Path:
    """``$ORBITSHARE_CACHE_DIR`` or ``platformdirs.user_cache_dir("orbitshare")/celestrak``."""
    env = os.environ.get("ORBITSHARE_CACHE_DIR")
    if env:
        return Path(env)
    return Path(platformdirs.user_cache_dir("orbitshare")) / "celestrak"


class _Deadline:
    """Shuts the watched socket down once ``seconds`` have passed, which ends a read blocked on it."""

    def __init__(self, seconds: float) -> None:
        self.expired = False
        self._sock: socket.socket | None = None
        self._lock = threading.Lock()
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True
        self._timer.start()

    def watch(self, sock: socket.socket) -> None:
        """Watch ``sock`` (the connection's socket, once connected)."""
        with self._lock:
            self._sock = sock
            if self.expired:
                self._shutdown()

    def _expire(self) -> None:
        with self._lock:
            self.expired = True
            self._shutdown()

    def _shutdown(self) -> None:
        if self._sock is not None:
            with contextlib.suppress(OSError):  # already closed
                self._sock.shutdown(socket.SHUT_RDWR)

    def cancel(self) -> None:
        """Stop the timer (the download finished or failed)."""
        self._timer.cancel()


def _opener(deadline: _Deadline) -> urllib.request.OpenerDirector:
    """An http(s)-only opener (proxies and redirects as ``urlopen``) whose connections ``deadline`` watches."""

    class WatchedHTTPConnection(http.client.HTTPConnection):
        def connect(self) -> None:
            super().connect()
            deadline.watch(self.sock)

    class WatchedHTTPSConnection(http.client.HTTPSConnection):
        def connect(self) -> None:
            super().connect()
            deadline.watch(self.sock)

    class HTTPHandler(urllib.request.HTTPHandler):
        def http_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
            return self.do_open(WatchedHTTPConnection, req)

    class HTTPSHandler(urllib.request.HTTPSHandler):
        def https_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
            return self.do_open(WatchedHTTPSConnection, req)

    opener = urllib.request.OpenerDirector()
    for handler in (
        urllib.request.ProxyHandler(),
        urllib.request.UnknownHandler(),  # a redirect to ftp: or file: fails as an unknown url type
        HTTPHandler(),
        HTTPSHandler(),
        urllib.request.HTTPDefaultErrorHandler(),
        urllib.request.HTTPRedirectHandler(),
        urllib.request.HTTPErrorProcessor(),
    ):
        opener.add_handler(handler)
    return opener


def _one_line(text: str, limit: int = 200) -> str:
    """``text`` (a server's words, maybe) as one line of printable characters, at most ``limit`` long."""
    flat = " ".join("".join(c if c.isprintable() else " " for c in text[: limit + 1]).split())
    return flat if len(flat) <= limit else flat[:limit] + "..."


class _DeadlinePassed(Exception):
    """The download did not finish within its deadline."""


class _TooLarge(Exception):
    """The payload exceeds ``max_bytes`` (``size``: the declared Content-Length, or None)."""

    def __init__(self, size: int | None) -> None:
        super().__init__(size)
        self.size = size


def _download(url: str, *, timeout_s: float, deadline_s: float, max_bytes: int) -> bytes:
    """The body of ``url``, read step by step, at most one socket read at a time.

    Raises :class:`_TooLarge` above ``max_bytes``, :class:`_DeadlinePassed` after ``deadline_s``
    (whatever the failure the shut-down socket caused), else the errors of urllib and http.client
    (a body shorter than its Content-Length raises ``http.client.IncompleteRead``).
    """
    request = urllib.request.Request(url, headers={"User-Agent": f"orbitshare/{__version__}"})
    deadline = _Deadline(deadline_s)
    try:
        with _opener(deadline).open(request, timeout=min(timeout_s, deadline_s)) as resp:
            declared = resp.headers.get("Content-Length", "").strip()
            size = int(declared) if declared.isdigit() and len(declared) < 20 else None
            if size is not None and size > max_bytes:
                raise _TooLarge(size)
            body = bytearray()
            while chunk := resp.read1(_READ_BYTES):
                body += chunk
                if len(body) > max_bytes:
                    raise _TooLarge(size)
                if deadline.expired:
                    raise _DeadlinePassed
            if deadline.expired:
                raise _DeadlinePassed
            if size is not None and len(body) < size:
                raise http.client.IncompleteRead(bytes(body[-32:]), size - len(body))
    except (_TooLarge, _DeadlinePassed):
        raise
    except Exception:
        if deadline.expired:  # the shut-down socket surfaces as a disconnect, a short read, ...
            raise _DeadlinePassed from None
        raise
    finally:
        deadline.cancel()
    return bytes(body)


def fetch_group(
    group: str,
    *,
    cache_dir: str | os.PathLike[str] | None = None,
    max_age_s: float = 7200.0,
    base_url: str = DEFAULT_BASE_URL,
    format: str = "csv",
    timeout_s: float = 60.0,
    deadline_s: float = DEFAULT_DEADLINE_S,
    max_bytes: int = MAX_TEXT_BYTES,
) -> Path:
    """Path of a cached CelesTrak GP file ``<group>.<format>``, downloading it when missing
    or older than ``max_age_s`` seconds from ``<base_url>?GROUP=<group>&FORMAT=<format>``.

    ``format``: "csv", "json", "xml" or "tle". ``base_url`` defaults to
    ``$ORBITSHARE_CELESTRAK_URL`` when set, else CelesTrak. The payload must parse as
    element sets before it atomically replaces the cached file. ``timeout_s`` (s) bounds each
    connect and read, ``deadline_s`` (s) the whole download once connected, and ``max_bytes``
    (bytes) the payload (refused as it streams in, before anything is cached). Raises
    ParameterError (a ValueError) for a bad group name/format/max_age_s/base_url/limit and
    DataError naming the URL for HTTP/network/protocol failures, an exceeded deadline or size,
    and payloads that are not element data (e.g. CelesTrak's "No GP data found"); the cache is
    then left untouched.
    """
    if not isinstance(group, str) or not _GROUP_RE.fullmatch(group):
        raise ParameterError(f"CelesTrak group name must be 1-64 letters, digits, '-' or '_', got {group!r}")
    fmt = format.lower()
    if fmt not in _FORMATS:
        raise ParameterError(f"format must be one of {', '.join(_FORMATS)}, got {format!r}")
    if not max_age_s >= 0:
        raise ParameterError(f"max_age_s must be >= 0, got {max_age_s!r}")
    for key, seconds in (("timeout_s", timeout_s), ("deadline_s", deadline_s)):
        if not (isinstance(seconds, (int, float)) and seconds > 0 and math.isfinite(seconds)):
            raise ParameterError(f"{key} must be a finite number of seconds above 0, got {seconds!r}")
    if isinstance(max_bytes, bool) or not isinstance(max_bytes, int) or max_bytes < 1:
        raise ParameterError(f"max_bytes must be a positive integer (bytes), got {max_bytes!r}")
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
    failed = f"CelesTrak download {url} failed"
    try:
        payload = _download(url, timeout_s=timeout_s, deadline_s=deadline_s, max_bytes=max_bytes)
    except urllib.error.HTTPError as exc:
        raise DataError(f"{failed}: HTTP {exc.code} {exc.reason}{stale}") from None
    except _TooLarge as exc:
        got = f"the server declares {exc.size} bytes" if exc.size is not None else "more than that arrived"
        raise DataError(f"{failed}: payload over the limit of {max_bytes} bytes (max_bytes); {got}{stale}") from None
    except _DeadlinePassed:
        raise DataError(f"{failed}: not finished within the deadline of {deadline_s:g} s (deadline_s){stale}") from None
    except http.client.HTTPException as exc:  # IncompleteRead, BadStatusLine, LineTooLong, InvalidURL, ...
        reason = f"{type(exc).__name__}: {_one_line(str(exc))}" if str(exc) else type(exc).__name__
        raise DataError(f"{failed}: {reason}{stale}") from None
    except (OSError, ValueError) as exc:  # URLError is an OSError; ValueError: e.g. a bad host name (IDNA)
        why = exc.reason if isinstance(exc, urllib.error.URLError) else exc
        raise DataError(f"{failed}: {_one_line(str(why))}{stale}") from None

    head = payload[:200].decode("utf-8", "replace").strip()
    if not head or head.lower().startswith("no gp data found"):
        raise DataError(f"CelesTrak has no GP data for group {group!r} ({url} answered {head[:80]!r}){stale}")
    try:
        parse_elements(payload, format=fmt, source=url, max_bytes=max_bytes)
    except ElementSetError as exc:
        raise DataError(f"CelesTrak download {url} is not {fmt.upper()} element data: {exc}{stale}") from None

    try:
        cdir.mkdir(parents=True, exist_ok=True)
        with atomic_path(target, overwrite=True, suffix=".part") as tmp:
            tmp.write_bytes(payload)
    except OSError as exc:  # a full disk, no permission: the previous cached copy stays as it was
        raise DataError(f"{target}: cannot cache the download of {url}: {exc.strerror or exc}") from None
    return target


def fetch_elements(group: str, **kw: object) -> ElementSet:
    """:func:`fetch_group` then :func:`~orbitshare.elements.read.load_elements` of the cached file."""
    fmt = kw.get("format", "csv")
    max_bytes = kw.get("max_bytes", MAX_TEXT_BYTES)
    return load_elements(fetch_group(group, **kw), format=str(fmt), max_bytes=max_bytes)  # type: ignore[arg-type]
