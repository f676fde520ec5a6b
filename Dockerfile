# syntax=docker/dockerfile:1
# leadgate container image: `docker build -t leadgate .`
# One image runs every role: `serve` (default), `api`, `worker`, `migrate`, e.g.
#   docker run -p 3000:3000 leadgate
#   docker run --no-healthcheck leadgate node dist/cli.js worker   (a worker has no listener)
# The drain on SIGTERM lasts up to SHUTDOWN_TIMEOUT_MS (30 s), longer than `docker stop`'s
# default 10 s: give it `docker stop -t 40` (ECS: stopTimeout 40).

# ---- build: compilers for better-sqlite3's native addon, dev dependencies, tsc --------------
FROM node:22-bookworm-slim AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
# Dependencies first, so a source change reuses this layer. --ignore-scripts skips the root
# `prepare` build (no sources yet); `npm rebuild better-sqlite3` then runs that one install
# script (its native addon: a prebuilt binary, else compiled with the tools above).
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts && npm rebuild better-sqlite3
COPY tsconfig.json tsconfig.build.json ./
COPY scripts/post-build.mjs scripts/
COPY src src
# The browser embed, bundled by esbuild into dist/embed.js (served at /v1/embed.js).
COPY clients/browser clients/browser
RUN npm run build
# Drop the dev dependencies; the addon compiled above stays. (`npm ci --omit=dev` in the
# runtime stage would need the compilers there too, and would run `prepare` without tsc.)
RUN npm prune --omit=dev

# ---- runtime: no compilers, no dev dependencies, not root ------------------------------------
FROM node:22-bookworm-slim AS runtime
# V8 sized for a small live heap (see bench/analysis.md): a young generation of 8 MB instead of
# 32 (api RSS under load 197 -> 168 MB, throughput -2 %), and a 512 MB heap limit instead of a
# quarter of the machine's memory, which V8 otherwise grows into (worker draining 212 -> 131 MB,
# throughput unchanged; the live heap is ~50 MB, and the api sheds load at 90 % of the limit).
ENV NODE_ENV=production \
    NODE_OPTIONS="--max-semi-space-size=4 --max-old-space-size=512" \
    PORT=3000 \
    HOST=0.0.0.0 \
    LEADGATE_DATA_DIR=/app/data \
    LEADGATE_CONFIG=/app/config/leadgate.yaml \
    LEADGATE_OPS_PORT=9464 \
    LEADGATE_OPS_HOST=0.0.0.0
WORKDIR /app
COPY --from=build --chown=root:root /app/node_modules node_modules
COPY --from=build --chown=root:root /app/dist dist
COPY --chown=root:root package.json package-lock.json ./
COPY --chown=root:root config config
COPY --chown=root:root migrations migrations
# The code stays root-owned and read-only to the app; only the embedded store's directory is
# writable (mount a volume there to keep SQLite data across containers).
RUN mkdir -p /app/data && chown node:node /app/data
VOLUME ["/app/data"]
# The `node` user (uid 1000) ships with the official image.
USER node
# 3000: the public listener (ingest, health). 9464: the ops listener (metrics, admin API, docs),
# bound to the container's address so Prometheus on the same network can scrape it: publish it
# only to a private network, never with the public port. Without a config file mounted at
# /app/config/leadgate.yaml (LEADGATE_CONFIG) the container exits 78: it never starts on the
# bundled example's public demo keys.
EXPOSE 3000 9464
# No curl in the slim image: Node's fetch. Liveness only: readiness (/health/ready) is for the
# load balancer, and a store outage must not get the container restarted.
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||3000)+'/health/live').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
# node directly, not npm or npx: SIGTERM reaches leadgate's drain, and no wrapper stays around.
CMD ["node", "dist/cli.js", "serve"]
