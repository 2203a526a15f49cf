"""Losses take embedded points (and the space's curvature); they never run the model."""
