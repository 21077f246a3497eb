"""Customer lifetime value: cohorts, the RFM summary, and the probabilistic purchase and spend models."""
