# cp4cds-wps: gunicorn and the job dispatcher (`cp4cds-wps start`) as a non-root user.
# The archive is mounted read-only at /data/esgf; outputs and job files live in /var/lib/cp4cds-wps.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    CP4CDS_WPS_CONFIG=/etc/cp4cds-wps/config.toml

# cdo: regridding of curvilinear and rotated-pole grids; curl: the health check.
# Debian's versions within the base image's release (pinning would break on every point release)
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends cdo curl \
    && rm -rf /var/lib/apt/lists/*

RUN groupadd --system --gid 10001 cp4cds-wps \
    && useradd --system --uid 10001 --gid cp4cds-wps --home-dir /var/lib/cp4cds-wps --shell /usr/sbin/nologin cp4cds-wps \
    && mkdir -p /var/lib/cp4cds-wps/outputs /etc/cp4cds-wps /data/esgf \
    && chown -R cp4cds-wps:cp4cds-wps /var/lib/cp4cds-wps

WORKDIR /opt/cp4cds-wps
COPY pyproject.toml README.md ./
COPY etc ./etc
COPY cp4cds_wps ./cp4cds_wps
# editable: the package reads etc/default.toml beside its code
RUN pip install --editable .

COPY docker/config.toml /etc/cp4cds-wps/config.toml

USER 10001:10001
WORKDIR /var/lib/cp4cds-wps
VOLUME ["/var/lib/cp4cds-wps"]
EXPOSE 5000

HEALTHCHECK --interval=30s --timeout=10s --start-period=120s --retries=3 \
    CMD ["curl", "-fsS", "http://127.0.0.1:5000/health"]

CMD ["cp4cds-wps", "start", "--bind", "0.0.0.0", "--port", "5000"]
