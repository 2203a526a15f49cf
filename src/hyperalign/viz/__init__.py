"""Plots of embedded hierarchies (matplotlib, imported only when a plot is drawn): Poincare-disk projections and
distance-from-origin histograms per depth (:mod:`hyperalign.viz.plots`)."""
