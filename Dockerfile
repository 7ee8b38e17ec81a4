# Gravitas container: build with the same dependency script as `make`, run as
# a non-root user with only the runtime libraries.
FROM debian:12-slim AS build
WORKDIR /src
COPY deploy/install-deps.sh deploy/install-deps.sh
RUN bash deploy/install-deps.sh && rm -rf /var/lib/apt/lists/*
COPY . .
RUN cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DGRAVITAS_TESTS=OFF \
    && cmake --build build -j "$(nproc)" \
    && strip build/gravitas

FROM debian:12-slim AS runtime
COPY deploy/install-deps.sh /tmp/install-deps.sh
RUN bash /tmp/install-deps.sh --runtime && rm -rf /var/lib/apt/lists/* /tmp/install-deps.sh \
    && useradd --system --uid 10001 --home-dir /var/lib/gravitas --create-home gravitas
COPY --from=build /src/build/gravitas /usr/local/bin/gravitas
COPY --from=build /src/openapi.yaml /usr/share/gravitas/openapi.yaml
COPY --from=build /src/data /usr/share/gravitas/data
ENV GRAVITAS_HOST=0.0.0.0 \
    GRAVITAS_PORT=8080 \
    GRAVITAS_DATA_DIR=/var/lib/gravitas \
    GRAVITAS_OPENAPI=/usr/share/gravitas/openapi.yaml
USER gravitas
VOLUME ["/var/lib/gravitas"]
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=3s --start-period=10s --retries=3 \
  CMD ["curl", "-fsS", "http://127.0.0.1:8080/healthz"]
ENTRYPOINT ["/usr/local/bin/gravitas"]
