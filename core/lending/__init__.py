"""Aave v3 lending: exact integer math, local health factors, positions, the lending service."""
