# BASE: any image with Python >= 3.11 and python3 -m venv (the default is the official slim
# image; `podman build --build-arg BASE=...` builds on a local one where Docker Hub is out of reach)
ARG BASE=python:3.11-slim
FROM ${BASE}
# EXTRAS: optional extras to install, e.g. "distributed" for compose.distributed.yaml
ARG EXTRAS=

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 \
    MONITOR_CONFIG=/config/config.toml \
    PATH=/opt/news-monitor/bin:$PATH

WORKDIR /app
COPY pyproject.toml README.md ./
COPY monitor ./monitor
RUN python3 -m venv /opt/news-monitor \
 && /opt/news-monitor/bin/pip install --no-cache-dir ".${EXTRAS:+[$EXTRAS]}" \
 && groupadd --system --gid 10001 monitor \
 && useradd --system --uid 10001 --gid 10001 --home /data monitor \
 && mkdir -p /data /config
COPY config.toml /config/config.toml
RUN sed -i 's|^path = "monitor.db"|path = "/data/monitor.db"|' /config/config.toml \
 && chown -R 10001:10001 /data /config

USER 10001:10001
VOLUME ["/data"]
# the web view, when [web] enabled (address "0.0.0.0" and a token_env in a container)
EXPOSE 8080
HEALTHCHECK --interval=60s --timeout=10s --start-period=60s --retries=3 \
  CMD ["monitor", "health"]
CMD ["monitor", "run"]
