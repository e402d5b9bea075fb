"""python -m training.stance --data ../shared/data/fnc1 [--sample N]
[--split body|story|both|none] [--out monitor/claims/stance_model] [--seed S]
"""

from __future__ import annotations

import sys

from training.stance.train import main

if __name__ == "__main__":
    sys.exit(main())
