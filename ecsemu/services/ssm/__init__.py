"""SSM: the provider and one module per resource kind."""
