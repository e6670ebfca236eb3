# The keelson image: the compiled CLI on Node 20, production dependencies only.
#
#   docker build -t keelson:dev .          (or: scripts/build-images.sh keelson)
#   docker run --rm keelson:dev version
#   docker run keelson:dev apiserver --nats nats://nats:4222
#
# A plain multi-stage build, so it works anywhere node:20-bookworm-slim can be
# pulled. Machines with no container registry import node:20-bookworm-slim from
# the host's node first (scripts/build-images.sh), then build this file
# unchanged; `docker-compose build` works the same. `npm ci` still needs the
# npm registry, reached from inside the build.
#
# NATS is not in this image: it runs in its own container (nats:2.9.10).

# Production dependencies alone, in their own stage: this layer (and its copy in
# the final image) is rebuilt only when package-lock.json changes, not on every
# source edit. --ignore-scripts: the root `prepare` script would try to build,
# and no dependency needs an install script to run Keelson.
FROM node:20-bookworm-slim AS deps
WORKDIR /src
COPY package.json package-lock.json ./
# Node trusts only its built-in CAs. The offline base image carries the host's
# system bundle (with any TLS-intercepting proxy's CA): trust it when present.
# Where the image has no bundle (the official slim one) this is a no-op.
RUN if [ -f /etc/ssl/certs/ca-certificates.crt ]; then export NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt; fi; \
    npm ci --omit=dev --ignore-scripts --no-audit --no-fund --loglevel=error

# The compiler and protobufjs-cli: protos -> services/lib/gen -> dist/ (npm run compile).
FROM node:20-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN if [ -f /etc/ssl/certs/ca-certificates.crt ]; then export NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt; fi; \
    npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
COPY tsconfig.json ./
COPY scripts/gen-protos.mjs scripts/copy-ui.mjs scripts/
COPY protos protos
COPY statecharts statecharts
COPY services services
RUN npm run compile

FROM node:20-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY package.json ./
COPY --from=deps /src/node_modules node_modules
# Generated code (services/lib/gen) is compiled in: no .proto is read at run time.
COPY --from=build /src/dist/services dist/services
COPY --from=build /src/dist/statecharts dist/statecharts
COPY bin bin
# `keelson` on PATH too, for `docker exec <container> keelson status`.
RUN ln -s /app/bin/keelson.js /usr/local/bin/keelson
# The API server's default port; `server` adds 10251/10252 (health, metrics).
EXPOSE 6443
ENTRYPOINT ["node", "/app/bin/keelson.js"]
CMD ["help"]
