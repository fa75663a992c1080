"""Element sets: ElementSet, TLE and OMM readers and writers, Walker shells, filings, CelesTrak fetch, owners."""
