"""Container runtimes behind the ``ContainerRuntime`` port: simulated, and (later) docker."""
