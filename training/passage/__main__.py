import sys

from training.passage.train import main

sys.exit(main())
