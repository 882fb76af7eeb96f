"""Hypothesis strategies for the load balancer's pure modules, in one place."""

from __future__ import annotations

from hypothesis import strategies as st

from ecsemu.lb.model import HealthCheckSpec, TargetSpec

# Characters rule values may hold: visible ASCII without the wildcards and the escape.
PLAIN = st.characters(min_codepoint=0x21, max_codepoint=0x7E, exclude_characters="*?\\")
plain_text = st.text(PLAIN, max_size=20)

health_specs = st.builds(
    HealthCheckSpec,
    healthy_threshold=st.integers(min_value=2, max_value=10),
    unhealthy_threshold=st.integers(min_value=2, max_value=10),
)


@st.composite
def target_lists(draw: st.DrawFn, min_size: int = 0, max_size: int = 6) -> tuple[TargetSpec, ...]:
    count = draw(st.integers(min_value=min_size, max_value=max_size))
    ports = draw(st.lists(st.integers(1024, 65535), min_size=count, max_size=count, unique=True))
    return tuple(
        TargetSpec(id=f"t{i}", port=port, draining_since=draw(st.one_of(st.none(), st.floats(0, 1e9))))
        for i, port in enumerate(ports)
    )


health_states = st.sampled_from(["initial", "healthy", "unhealthy", "unavailable"])
