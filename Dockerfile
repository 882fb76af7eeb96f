# ecsemu in a container. Build where a registry is reachable:
#   docker build -t ecsemu .
#   docker run --rm -p 127.0.0.1:4566:4566 -v /var/run/docker.sock:/var/run/docker.sock ecsemu
# With the socket mounted, tasks run as real containers on the host's engine; without it they
# are simulated. Inside the container ecsemu listens on all interfaces so the published port
# reaches it; publish it on 127.0.0.1 as above.
FROM python:3.11-slim
WORKDIR /opt/ecsemu
COPY pyproject.toml README.md ./
COPY ecsemu ./ecsemu
COPY api_shapes ./api_shapes
RUN pip install --no-cache-dir -e .
ENV ECSEMU_HOST=0.0.0.0 \
    ECSEMU_DATA_DIR=/var/lib/ecsemu
VOLUME /var/lib/ecsemu
EXPOSE 4566
ENTRYPOINT ["ecsemu", "serve"]
