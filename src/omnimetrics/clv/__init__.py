"""Customer lifetime value: cohorts, the RFM summary, the purchase and spend models."""
