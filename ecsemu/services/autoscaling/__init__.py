"""Application Auto Scaling: the provider and one module per resource kind."""
