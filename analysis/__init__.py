"""Read a depth study back from MLflow and draw the paper's figures, table and verdict.

This package reads MLflow only: it never imports the training code and never trains anything.
"""

import logging

# Without a writable HOME, matplotlib warns in two lines on import and then works from a
# temporary folder: nothing the user needs to act on, and noise around a command's one line.
logging.getLogger("matplotlib").setLevel(logging.ERROR)
