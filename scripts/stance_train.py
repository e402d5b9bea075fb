#!/usr/bin/env python3
"""Train and evaluate the stance model on FNC-1; with --out, write the shipped model files.

python scripts/stance_train.py --data ../shared/data/fnc1 [--sample N]
    [--split body|story|both|none] [--out monitor/claims/stance_model] [--seed S]
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from monitor.claims.stance_train import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
