"""The analytics on frames: cleaning, KPIs, stock, stock alerts, forecasts, anomalies."""
