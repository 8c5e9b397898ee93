# The otelcol-incidents image (OCI; docker or podman). Nothing is compiled or
# pulled here: `make image` builds the static collector with ocb first and
# stages build/image/ (the build machine's CA bundle, an empty data directory),
# so the image is FROM scratch and builds offline.
FROM scratch

ARG VERSION=dev
LABEL org.opencontainers.image.title="otelcol-incidents" \
      org.opencontainers.image.description="OpenTelemetry Collector that turns alert webhooks into incidents" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.licenses="Apache-2.0"

# TLS to PostgreSQL (sslmode=require/verify-full) and to the analysis service.
COPY build/image/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY build/otelcol-incidents /otelcol-incidents
COPY deploy/image/config.yaml /etc/otelcol-incidents/config.yaml
# The SQLite directory, owned by the user below; a volume so that incidents
# outlive the container. /tmp is for SQLite's temporary files.
COPY --chown=10001:10001 build/image/data/ /var/lib/otelcol-incidents/
COPY --chown=10001:10001 build/image/tmp/ /tmp/
VOLUME ["/var/lib/otelcol-incidents"]

# Numeric, so that Kubernetes' runAsNonRoot can check it without a passwd file.
USER 10001:10001
WORKDIR /var/lib/otelcol-incidents

# 8504 webhooks, 13133 health check, 8888 the collector's own metrics, 8505
# the incident API (when the config turns it on).
EXPOSE 8504 13133 8888 8505

ENTRYPOINT ["/otelcol-incidents"]
CMD ["--config=/etc/otelcol-incidents/config.yaml", "--feature-gates=+extension.healthcheck.useComponentStatus"]
