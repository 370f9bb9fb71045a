"""Plain vs residual networks across depth (He et al. 2016): models, data, training, tracking."""
