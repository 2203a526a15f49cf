"""Trainable modules: structural context encoders, aggregation, embedding spaces, and the H2ARN model."""
