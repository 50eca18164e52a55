# securescore_exporter container image.
#
#   docker build -t securescore_exporter .
#   docker run --rm -p 10057:10057 securescore_exporter demo --web.listen-address 0.0.0.0:10057
#   docker run --rm -p 10057:10057 -v $PWD/config.toml:/etc/securescore_exporter/config.toml:ro \
#       -v securescore-state:/var/lib/securescore_exporter --read-only securescore_exporter
#
# Build stage: the toolchain the project is tested with; --locked builds exactly Cargo.lock.
FROM docker.io/library/rust:1.95-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock build.rs ./
COPY src ./src
COPY crates ./crates
ARG BUILD_GIT_REVISION=unknown
ENV BUILD_GIT_REVISION=${BUILD_GIT_REVISION}
RUN cargo build --release --locked --bin securescore_exporter \
 && mkdir /data

# Final stage: glibc and libgcc only (the binary links them dynamically), no shell, no package
# manager. The binary carries its own TLS roots (webpki-roots), so no CA bundle is needed.
FROM gcr.io/distroless/cc-debian12:nonroot
ARG VERSION=0.1.0
ARG BUILD_GIT_REVISION=unknown
LABEL org.opencontainers.image.title="securescore_exporter" \
      org.opencontainers.image.description="Microsoft Secure Score as Prometheus metrics" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${BUILD_GIT_REVISION}" \
      org.opencontainers.image.licenses="Apache-2.0"
COPY --from=build /src/target/release/securescore_exporter /usr/local/bin/securescore_exporter
# A directory the runtime user owns, for volumes it writes ([state] path, compose's backfill
# output): a new named volume takes the ownership of the image directory it is mounted on.
COPY --from=build --chown=65532:65532 /data /var/lib/securescore_exporter
# The state directory ([state] path = "/var/lib/securescore_exporter"): mount a named volume
# here (-v securescore-state:/var/lib/securescore_exporter) so a new container serves the last
# good data at once; without one, Docker makes an anonymous volume per container.
VOLUME ["/var/lib/securescore_exporter"]
# The distroless "nonroot" user (65532); nothing is written outside /tmp (the demo's generated
# config) and the state volume, so the root filesystem can be mounted read-only with a tmpfs
# on /tmp.
USER 65532:65532
EXPOSE 10057
ENTRYPOINT ["/usr/local/bin/securescore_exporter"]
CMD ["--config", "/etc/securescore_exporter/config.toml", "--web.listen-address", "0.0.0.0:10057"]
