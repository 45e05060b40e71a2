# syntax=docker/dockerfile:1
# cepd: a static binary on a distroless base, run as a non-root user.
#   docker build -t cepd .
#   docker run --rm -p 8080:8080 -p 9090:9090 -v cepd-data:/var/lib/cepd cepd serve --demo --http 0.0.0.0:8080 ...
# Beyond loopback cepd needs --auth-tokens and --tls-cert/--tls-key (see docs/operations.md).

FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
# CGO off: a static binary that runs on a base image without libc.
RUN CGO_ENABLED=0 GOOS=linux go build -trimpath -ldflags="-s -w" -o /out/cepd ./cmd/cepd \
 && mkdir -p /out/data

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/cepd /usr/local/bin/cepd
COPY --from=build --chown=65532:65532 /out/data /var/lib/cepd
USER 65532:65532
WORKDIR /var/lib/cepd
VOLUME ["/var/lib/cepd"]
EXPOSE 8080 9090
ENTRYPOINT ["/usr/local/bin/cepd"]
CMD ["serve", "--config", "/etc/cepd/cepd.yaml"]
