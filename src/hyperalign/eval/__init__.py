"""Evaluation: retrieval ranks and metrics (R@K, MedR, MeanR, MRR, Rsum, mAP) and hierarchy metrics."""
