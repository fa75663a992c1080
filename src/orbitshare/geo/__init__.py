"""Geography: countries, land and population on a grid (embedded build, Natural Earth, rasters).

:mod:`~orbitshare.geo.build` builds and caches the geography Dataset (:func:`geography`);
:mod:`~orbitshare.geo.embedded` and :mod:`~orbitshare.geo.naturalearth` are its two sources, built
from the shared pieces of :mod:`~orbitshare.geo.parts`; :mod:`~orbitshare.geo.shapefile` and
:mod:`~orbitshare.geo.population` read boundary layers and population rasters.
"""

from orbitshare.geo.build import country_cell_pairs, geography, geography_cache_dir
from orbitshare.geo.parts import country_groups

__all__ = ["geography", "country_groups", "country_cell_pairs", "geography_cache_dir"]
