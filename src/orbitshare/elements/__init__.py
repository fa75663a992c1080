"""Element sets: ElementSet, TLE and OMM readers and writers, Walker shells, filings, CelesTrak fetch, owners.

Modules: :mod:`~orbitshare.elements.elementset` (the :class:`ElementSet` arrays),
:mod:`~orbitshare.elements.read` (:func:`load_elements`, :func:`parse_elements`),
:mod:`~orbitshare.elements.tle` and :mod:`~orbitshare.elements.omm` (the text formats),
:mod:`~orbitshare.elements.fields` (field names and shared helpers),
:mod:`~orbitshare.elements.walker` (Walker shells), :mod:`~orbitshare.elements.filings` (filed
shells), :mod:`~orbitshare.elements.owners` (operating countries) and
:mod:`~orbitshare.elements.fetch` (CelesTrak downloads; not imported here).
"""

from orbitshare.elements.elementset import Duplicate, ElementSet, Skipped
from orbitshare.elements.filings import filing_elements, filing_systems, load_filings
from orbitshare.elements.owners import Owners, satellite_owners
from orbitshare.elements.read import load_elements, parse_elements
from orbitshare.elements.walker import mean_motion_for_altitude, walker

__all__ = [
    "ElementSet",
    "Skipped",
    "Duplicate",
    "load_elements",
    "parse_elements",
    "walker",
    "mean_motion_for_altitude",
    "load_filings",
    "filing_systems",
    "filing_elements",
    "satellite_owners",
    "Owners",
]
