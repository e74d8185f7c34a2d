# Multi-stage build: a static binary on a distroless base, run as non-root.
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY cmd ./cmd
COPY pkg ./pkg
COPY policies ./policies
ARG VERSION=dev
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/microguard ./cmd/microguard

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/microguard /microguard
USER 65532:65532
EXPOSE 9443 8080 8081
ENTRYPOINT ["/microguard"]
CMD ["serve", "--cert-dir", "/tls", "--config", "/etc/microguard/config.yaml"]
