"""Outputs for readers, written into a run directory.

* :mod:`orbitshare.report.tables`: the CSV tables (``countries.csv``, ``groups.csv``, ``equity.csv``)
  and the number formats the report shares;
* :mod:`orbitshare.report.figures`: maps with country outlines and the Lorenz figure (PNG);
* :mod:`orbitshare.report.document`: ``report.md`` and ``report.html``, which link both.
"""
