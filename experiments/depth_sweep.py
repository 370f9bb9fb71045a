"""Plain vs residual nets across depth (He et al. 2016), every run tracked in MLflow.

python experiments/depth_sweep.py --preset quick
python experiments/depth_sweep.py --help
"""

import time

STARTED = time.perf_counter()  # before the imports: the start-up time counts them

import sys  # noqa: E402
from pathlib import Path  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout, too

from resnet.cli.sweep import main  # noqa: E402
from resnet.core import startup  # noqa: E402

if __name__ == "__main__":
    startup.start(STARTED)
    sys.exit(main())
