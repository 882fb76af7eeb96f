# ecsemu as a container image.
#
# Build:  scripts/build-image.sh            (offline: no registry needed; see the script)
#    or:  docker build -t ecsemu .          (where Docker Hub and PyPI are reachable)
# Run:    docker run -d --name ecsemu --network host \
#           -v /var/run/docker.sock:/var/run/docker.sock -v ecsemu-state:/var/lib/ecsemu ecsemu
# Stop:   docker stop -t 30 ecsemu
#
# Host networking: ecsemu listens on 127.0.0.1:4566 of the host, the load balancer's listeners bind
# 127.0.0.1:<port> of the host, and task containers (started on the host's engine through the
# mounted socket) publish on the host's 127.0.0.1 where the load balancer health-checks them.
# State lives in the named volume: a new container on the same volume has the same namespace
# label and adopts the tasks the last one left running. `docker stop` sends SIGTERM: a durable
# ecsemu leaves its tasks running for the next one (and logs how to adopt or remove them); with
# -e ECSEMU_EPHEMERAL=1 it removes its tasks' containers before it exits.
ARG BASE=python:3.11-slim

# -- build: a virtual environment holding ecsemu built as a wheel (`pip install .`, not editable)
FROM ${BASE} AS build
LABEL ecsemu.image=true
COPY pyproject.toml setup.py README.md /tmp/ecsemu-src/
COPY api_shapes /tmp/ecsemu-src/api_shapes/
COPY ecsemu /tmp/ecsemu-src/ecsemu/
# Wheels to install from: scripts/build-image.sh fills build/wheelhouse/ with the host's pip and
# passes PIP_INSTALL_OPTIONS=--no-index; a plain `docker build` has none (the pattern matches
# nothing, pyproject.toml keeps the instruction valid) and pip uses PyPI.
COPY pyproject.toml build/wheelhous[e] /tmp/ecsemu-wheels/
ARG PIP_INSTALL_OPTIONS=""
RUN python3 -m venv /opt/ecsemu \
 && /opt/ecsemu/bin/pip install --no-cache-dir --disable-pip-version-check \
        --find-links /tmp/ecsemu-wheels ${PIP_INSTALL_OPTIONS} /tmp/ecsemu-src \
 && /opt/ecsemu/bin/ecsemu --version \
 && /opt/ecsemu/bin/python -c "from ecsemu.protocol.validation import load_shapes_document as load; load('ecs'); load('elbv2')"

# -- the image: the base plus the environment, no sources, no wheels, no build tools
FROM ${BASE}
LABEL ecsemu.image=true \
      org.opencontainers.image.title="ecsemu" \
      org.opencontainers.image.description="An offline emulator of Amazon ECS and ELBv2 that runs real Docker containers"
COPY --from=build /opt/ecsemu /opt/ecsemu
# The data directory is made private here so a new named volume starts private (ecsemu narrows it
# otherwise). No VOLUME: an anonymous volume would take the state (and the namespace that lets a
# restart adopt its tasks) away with the container; mount a named one as above.
RUN mkdir -p -m 0700 /var/lib/ecsemu
# ECSEMU_IN_CONTAINER: the stop message then says to start a container on the same volume.
ENV PATH=/opt/ecsemu/bin:$PATH \
    ECSEMU_DATA_DIR=/var/lib/ecsemu \
    ECSEMU_IN_CONTAINER=1
# ecsemu listens on 127.0.0.1 (the default): with --network host that is the host's loopback.
EXPOSE 4566
STOPSIGNAL SIGTERM
# `ecsemu` alone serves; arguments are serve's options (`--port 4570`) or `--version`.
ENTRYPOINT ["ecsemu"]
