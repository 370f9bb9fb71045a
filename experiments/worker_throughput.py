"""Sweep throughput with several workers sharing one device (GPU or CPU).

python experiments/worker_throughput.py --device cuda --workers 1,2,4,8 --json workers.json
python experiments/worker_throughput.py --help
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout, too

from resnet.cli.throughput import main

if __name__ == "__main__":
    sys.exit(main())
