# syntax=docker/dockerfile:1
# nexasync as a container: `docker build -t nexasync .` then see deploy/README.md.

ARG PYTHON_VERSION=3.12

# --- builder: the package and its dependencies as wheels -----------------------------
FROM python:${PYTHON_VERSION}-slim AS builder
WORKDIR /src
COPY pyproject.toml README.md ./
COPY src ./src
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

# --- runtime: the wheels installed, no build tools, not root ---------------------------
FROM python:${PYTHON_VERSION}-slim AS runtime

ARG UID=10001
RUN groupadd --system --gid "${UID}" nexasync \
    && useradd --system --uid "${UID}" --gid nexasync --no-create-home \
        --home-dir /var/lib/nexasync --shell /usr/sbin/nologin nexasync \
    && mkdir -p /var/lib/nexasync /etc/nexasync \
    && chown nexasync:nexasync /var/lib/nexasync

# The wheels are mounted for the install only, so no layer keeps them.
RUN --mount=type=bind,from=builder,source=/wheels,target=/wheels \
    pip install --no-cache-dir --no-index --find-links=/wheels /wheels/nexasync-*.whl

# The config is mounted read-only at NEXASYNC_CONFIG; the state (SQLite database and
# its lock files) lives on the volume: state.url sqlite:////var/lib/nexasync/nexasync.db
ENV NEXASYNC_CONFIG=/etc/nexasync/nexasync.yaml \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
VOLUME ["/var/lib/nexasync"]
WORKDIR /var/lib/nexasync
USER ${UID}:${UID}

# /healthz, /readyz and /metrics: the config must set service.listen 0.0.0.0:9464.
EXPOSE 9464
# The slim image has no curl: Python's urllib does the probe (non-2xx raises, exit 1).
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:9464/healthz', timeout=4)"]

# SIGTERM (docker stop) lets the running cycle finish its batch: give it
# service.stop_timeout_seconds plus a margin, e.g. `docker stop -t 75`.
STOPSIGNAL SIGTERM
ENTRYPOINT ["nexasync"]
CMD ["run"]
