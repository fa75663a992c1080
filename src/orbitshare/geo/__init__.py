"""Geography: countries, land and population on a grid (embedded build, Natural Earth, rasters)."""
