"""One line per benchmark target, in a shape run_all.py can collect for its summary.

A bench script prints ``target_line(...)``; run_all.py picks every line that starts with
:data:`PREFIX` out of each script's output and repeats them together at the end. The verdict is
computed here so a script run on its own prints the same PASS / MISS.
"""

from __future__ import annotations

PREFIX = "target: "


def target_line(name: str, value: float, limit: float, unit: str, *, at_most: bool = True) -> str:
    """``target: <name>  <value> <unit>  (<= <limit> <unit>)  PASS|MISS``."""
    ok = value <= limit if at_most else value >= limit
    op = "<=" if at_most else ">="
    figure = f"{value:.3f} {unit}"
    bound = f"({op} {limit:g} {unit})"
    return f"{PREFIX}{name:<52} {figure:>13}  {bound:<16} {'PASS' if ok else 'MISS'}"
