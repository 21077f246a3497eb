"""Marketing mix model: adstock, saturation, the fit with bootstrap intervals, the optimiser."""
