"""``python -m nbjobs``: the same command as the ``nbjobs`` console script."""

from __future__ import annotations

import sys

from nbjobs._cli.main import main

__all__ = ("main",)

if __name__ == "__main__":
    sys.exit(main())
