# syntax=docker/dockerfile:1
# The burn-in dashboard. Build: docker build -t burnin-dashboard .
# Run:   docker run -p 3000:3000 -v burnin-data:/data burnin-dashboard

# ---- builder: the same set-up script a workstation uses, so the two cannot drift ----
FROM rust:1.95-slim-bookworm AS builder
# scripts/env.sh is bash (BASH_SOURCE); the image's /bin/sh is dash, which cannot source it.
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
# brotli: the site's precompressed copies (scripts/build.sh); the rest builds the tools.
RUN apt-get update \
 && apt-get install -y --no-install-recommends nodejs npm python3 ca-certificates pkg-config gcc g++ brotli \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
# Tools first, in their own layer: they change far less often than the code.
COPY Cargo.toml Cargo.lock ./
COPY scripts/setup.sh scripts/env.sh scripts/
COPY end2end/package.json end2end/package-lock.json end2end/
RUN scripts/setup.sh
COPY . .
RUN scripts/build.sh \
 && mkdir -p /out \
 && cp target/release/burnin-server /out/ \
 && cp -r target/site /out/site

# ---- runtime: Debian slim, unprivileged, data in a volume ----
FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates curl \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home-dir /data --shell /usr/sbin/nologin burnin \
 && mkdir -p /data \
 && chown burnin:burnin /data
COPY --from=builder /out/burnin-server /usr/local/bin/burnin-server
COPY --from=builder /out/site /usr/local/share/burnin/site
# Two malloc arenas: ~52 MiB instead of ~67 MiB at 1,000 drives and 50 tabs (README, Benchmarks).
ENV BURNIN_ENV=production \
    MALLOC_ARENA_MAX=2 \
    BURNIN_LISTEN=0.0.0.0:3000 \
    BURNIN_DATABASE_URL=sqlite:///data/burnin.db \
    LEPTOS_SITE_ROOT=/usr/local/share/burnin/site
USER burnin
WORKDIR /data
VOLUME ["/data"]
EXPOSE 3000
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD curl -fsS http://127.0.0.1:3000/healthz || exit 1
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/burnin-server"]
