"""Outputs for readers: CSV tables, maps and Lorenz figures, the Markdown/HTML report."""
