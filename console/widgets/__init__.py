"""The console's panes, one per module, each rendering from plain data."""
