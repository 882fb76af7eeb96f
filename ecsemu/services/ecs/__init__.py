"""Amazon ECS: one provider (``provider.py``), one module per resource kind."""
