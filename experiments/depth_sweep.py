"""Plain vs residual nets across depth (He et al. 2016), every run tracked in MLflow.

python experiments/depth_sweep.py --preset quick
python experiments/depth_sweep.py --help
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout, too

from resnet.cli import main

if __name__ == "__main__":
    sys.exit(main())
