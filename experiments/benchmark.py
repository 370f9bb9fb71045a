"""Images per second of the bare training step, our training loop and the usual pipeline.

python experiments/benchmark.py                       # ResNet-20 and -56, bf16, batch 128
python experiments/benchmark.py --depths 20,56,110 --device cuda --json bench.json
python experiments/benchmark.py --help
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout, too

from resnet.cli.benchmark import main

if __name__ == "__main__":
    sys.exit(main())
