import sys

from training.judge.train import main

sys.exit(main())
