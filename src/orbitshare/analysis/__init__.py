"""Accounts per country and group, and inequality indices."""
