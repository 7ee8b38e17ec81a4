# Gravitas container image (see README.md, "Deploy").
#
#   docker build -t gravitas:0.1.0 .
#   docker run --rm -p 8080:8080 -v gravitas-data:/var/lib/gravitas gravitas:0.1.0
#
# Two stages on Debian 12 slim. The build stage installs the toolchain with
# deploy/install-deps.sh, the same script `make` runs; the runtime stage runs
# it with --runtime, which installs only the shared libraries the binary links
# (checked by ctest deploy_ldd) plus curl for the HEALTHCHECK and
# ca-certificates for TLS. The image holds the stripped binary, openapi.yaml
# and data/ (the embedded default dataset's sources), and runs as uid 10001.
# ctest deploy_dockerfile lints this file and checks each of these points.

FROM debian:12-slim AS build
WORKDIR /src
COPY deploy/install-deps.sh deploy/install-deps.sh
RUN bash deploy/install-deps.sh && rm -rf /var/lib/apt/lists/*
# Only the sources: a local build/ (its CMakeCache.txt names another source
# directory) or node_modules/ must never reach the image.
COPY CMakeLists.txt openapi.yaml ./
COPY core core
COPY api api
COPY server server
COPY data data
RUN cmake -S . -B /build -DCMAKE_BUILD_TYPE=Release -DGRAVITAS_TESTS=OFF \
    && cmake --build /build -j "$(nproc)" --target gravitas \
    && strip /build/gravitas

FROM debian:12-slim AS runtime
LABEL org.opencontainers.image.title="gravitas" \
      org.opencontainers.image.description="Gravity models of trade and trade potential over HTTP" \
      org.opencontainers.image.version="0.1.0"
COPY deploy/install-deps.sh /tmp/install-deps.sh
RUN bash /tmp/install-deps.sh --runtime \
    && rm -rf /var/lib/apt/lists/* /tmp/install-deps.sh \
    && groupadd --system --gid 10001 gravitas \
    && useradd --system --uid 10001 --gid 10001 --no-create-home \
       --home-dir /var/lib/gravitas --shell /usr/sbin/nologin gravitas \
    && install -d -o 10001 -g 10001 -m 0750 /var/lib/gravitas
COPY --from=build /build/gravitas /usr/local/bin/gravitas
COPY --from=build /src/openapi.yaml /usr/share/gravitas/openapi.yaml
COPY --from=build /src/data /usr/share/gravitas/data
# Listen on every interface inside the container; the store lives in the
# volume below.
ENV GRAVITAS_HOST=0.0.0.0 \
    GRAVITAS_PORT=8080 \
    GRAVITAS_DATA_DIR=/var/lib/gravitas \
    GRAVITAS_OPENAPI=/usr/share/gravitas/openapi.yaml
WORKDIR /var/lib/gravitas
VOLUME ["/var/lib/gravitas"]
EXPOSE 8080
# Numeric, so that Kubernetes' runAsNonRoot can verify it.
USER 10001:10001
# Liveness only; /readyz (store open, default model installed) is for
# orchestrators' readiness probes. No --start-period: the server answers
# within a second of starting (and dockerfilelint 1.8 rejects that flag).
HEALTHCHECK --interval=30s --timeout=3s --retries=3 \
  CMD ["/bin/sh", "-c", "curl -fsS --max-time 2 -o /dev/null http://127.0.0.1:${GRAVITAS_PORT:-8080}/healthz || exit 1"]
# The server drains in-flight requests on SIGTERM and exits 0.
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/gravitas"]
