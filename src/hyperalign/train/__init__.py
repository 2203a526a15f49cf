"""Training: validated configs, the loop (schedule, clipping, checkpoints, exact resume) and checkpoint files."""
