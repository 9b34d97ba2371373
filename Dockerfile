# syntax=docker/dockerfile:1
# pod-security-advisor: a static binary on distroless, running as 65532 (non-root), so that the
# chart's read-only, drop-ALL, restricted Pod Security Standards pod can run it.
#   make image IMAGE=ghcr.io/pod-security-advisor/pod-security-advisor:0.1.0

FROM --platform=$BUILDPLATFORM golang:1.26 AS build
WORKDIR /src
# Modules first: cached until go.mod or go.sum change.
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
ARG TARGETOS=linux
ARG TARGETARCH
# What `pod-security-advisor version` prints: docker build --build-arg VERSION=$(git describe --always --dirty) --build-arg COMMIT=$(git rev-parse HEAD)
ARG VERSION=dev
ARG COMMIT=unknown
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 GOOS=$TARGETOS GOARCH=$TARGETARCH \
    go build -trimpath -ldflags="-s -w -X main.version=$VERSION -X main.commit=$COMMIT" -o /out/pod-security-advisor ./cmd/webhook

FROM gcr.io/distroless/static:nonroot
COPY --from=build /out/pod-security-advisor /pod-security-advisor
USER 65532:65532
ENTRYPOINT ["/pod-security-advisor"]
CMD ["serve"]
