# syntax=docker/dockerfile:1
# The aksnet operator image, for your own builder (docker, podman, buildah, kaniko):
#
#   docker build -t ghcr.io/aksnet/aksnet-operator:0.1.0 \
#     --build-arg VERSION=0.1.0 --build-arg REVISION=$(git rev-parse HEAD) .
#
# `make image` builds the same image on a machine without a container engine (e2e/imagebuild):
# the binary of the `image` profile, the C runtime it links, CA certificates, user 65532.

ARG RUST_VERSION=1.95

FROM docker.io/library/rust:${RUST_VERSION}-bookworm AS build
WORKDIR /src
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --locked --profile image -p aksnet-operator \
    && cp target/image/aksnet-operator /aksnet-operator

# distroless "cc": glibc, libgcc and CA certificates, no shell, user nonroot (65532).
FROM gcr.io/distroless/cc-debian12:nonroot
ARG VERSION=0.1.0
ARG REVISION=unknown
LABEL org.opencontainers.image.title="aksnet-operator" \
      org.opencontainers.image.description="Makes an Azure network follow a Kubernetes cluster" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.source="https://github.com/aksnet/aksnet"
COPY --from=build /aksnet-operator /aksnet-operator
USER 65532:65532
EXPOSE 8080
ENTRYPOINT ["/aksnet-operator"]
