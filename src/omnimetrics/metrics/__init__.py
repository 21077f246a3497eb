"""Metrics: KPI definitions (one registry), segments and audiences, SMART goals, forecasts and
the omnichannel maturity score."""
