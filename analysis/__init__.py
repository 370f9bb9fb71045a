"""Read a depth study back from MLflow and draw the paper's figures, table and verdict.

This package reads MLflow only: it never imports the training code and never trains anything.
"""
