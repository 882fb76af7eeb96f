"""Only the compiled fast path of the load balancer lives here; everything else is in pyproject.toml.

The extension is optional: where it cannot be built, the pure-Python HTTP listener serves alone.
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "ecsemu.lb._fastproxy",
            ["ecsemu/lb/_fastproxy.c"],
            extra_compile_args=["-O2", "-Wall", "-Wextra", "-Wno-missing-field-initializers"],
            optional=True,
        )
    ]
)
