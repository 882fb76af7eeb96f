"""ecsemu: an offline emulator of Amazon ECS that runs real containers."""

__version__ = "0.1.0"
