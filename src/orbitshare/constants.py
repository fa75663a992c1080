"""Physical constants. Names carry units.

SGP4 uses WGS72 (as the reference implementation does); geodesy uses WGS84.
"""

import math

# --- WGS72, the gravity model of SGP4 (Vallado et al. 2006, getgravconst('wgs72')) ---
WGS72_MU_KM3_S2 = 398600.8  # km^3 / s^2
WGS72_RE_KM = 6378.135  # km, equatorial radius
WGS72_J2 = 0.001082616
WGS72_J3 = -0.00000253881
WGS72_J4 = -0.00000165597
WGS72_XKE_PER_MIN = 60.0 / math.sqrt(WGS72_RE_KM**3 / WGS72_MU_KM3_S2)  # 1/min (er^1.5/min)

# --- WGS84 ellipsoid for geodesy ---
WGS84_A_KM = 6378.137  # km, semi-major axis
WGS84_F = 1.0 / 298.257223563  # flattening
WGS84_B_KM = WGS84_A_KM * (1.0 - WGS84_F)
WGS84_E2 = WGS84_F * (2.0 - WGS84_F)  # first eccentricity squared
WGS84_MU_KM3_S2 = 398600.4418  # km^3 / s^2 (EGM96 / WGS84 GM)

RE_KM = WGS84_A_KM  # the Earth radius used for altitudes (km)

# --- time ---
SEC_PER_DAY = 86400.0
MIN_PER_DAY = 1440.0
JD_J2000 = 2451545.0
JD_1950 = 2433281.5  # SGP4 "epoch" origin: 1949 December 31 0h UT

TWOPI = 2.0 * math.pi
DEG2RAD = math.pi / 180.0
RAD2DEG = 180.0 / math.pi
