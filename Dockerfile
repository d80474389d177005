# syntax=docker/dockerfile:1
# The asset-metadata worker. Multi-stage: the build stage compiles TypeScript with the dev dependencies;
# the runtime stage has production dependencies only, runs as a non-root user, and carries the one
# ffprobe binary it needs.
#
# Node 26 is the Active LTS line (October 2026 to October 2027, end of life April 2029); the worker needs
# Node >= 22.19. Debian 13 (trixie) is the current Debian stable.
#
# Both linux/amd64 and linux/arm64 build from this file unchanged: the bundled ffprobe comes from the
# optional dependency @ffprobe-installer/linux-x64 or @ffprobe-installer/linux-arm64, and npm installs
# the one whose os/cpu match the platform it runs on (the lock file lists both); sharp's libvips and
# pdf.js's canvas come the same way from their @img and @napi-rs packages.

FROM node:26-trixie-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
# --ignore-scripts: nothing to build yet (no sources); sharp, pdf.js's canvas and ffprobe ship prebuilt
# binaries inside their packages.
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json ./
COPY src ./src
COPY workers ./workers
RUN npm run build \
 && npm prune --omit=dev --no-audit --no-fund \
 # The ffprobe package's own install script (skipped here) sets the run bit for its owner only: make it
 # runnable by the "node" user, and check that this platform's binary is there and runs.
 && ffprobe="node_modules/@ffprobe-installer/$(node -p "process.platform + '-' + process.arch")/ffprobe" \
 && chmod 0755 "$ffprobe" \
 && "$ffprobe" -version >/dev/null

FROM node:26-trixie-slim
# MALLOC_ARENA_MAX=2: glibc gives each thread that allocates its own malloc arena; libvips (sharp) and
# the extraction threads then keep memory in many arenas. Two arenas cut a replica's peak RSS at
# concurrency 16 by about 30 MB in the benchmark (docs/performance.md), at no measurable cost in speed.
ENV NODE_ENV=production \
    TMP_DIR=/tmp/asset-metadata \
    HEALTH_PORT=9464 \
    MALLOC_ARENA_MAX=2
WORKDIR /app
COPY --from=build /app/package.json ./package.json
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
# The image's "node" user (uid 1000) owns only the temp directory; the code is read-only to it.
RUN mkdir -p /tmp/asset-metadata && chown node:node /tmp/asset-metadata && chmod 700 /tmp/asset-metadata
USER node
EXPOSE 9464
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.HEALTH_PORT||9464)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
# node is PID 1 and handles SIGTERM itself: it stops taking jobs, finishes those in flight, exits 0.
STOPSIGNAL SIGTERM
CMD ["node", "dist/workers/metadata-worker.js"]
