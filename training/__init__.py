"""Training and evaluation code, kept out of the runtime package `monitor`.

Run from the repository root with the `[train]` extra installed, e.g.
``python -m training.stance --data ../shared/data/fnc1``; see training/README.md.
"""
