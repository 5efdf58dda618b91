"""The staff home: the one app that reads every other (DESIGN.md §3)."""
