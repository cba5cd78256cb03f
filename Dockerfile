# One image for the three services (docker-compose.yml picks the service by its command):
#   docker build -t jit-funding .
#   docker run --env-file .env jit-funding node services/jit-authorizer/dist/server.js
# Node 24 LTS; the build stage compiles the workspace, the runtime stage holds production
# dependencies only and runs as the unprivileged `node` user.
ARG NODE_IMAGE=node:24-bookworm-slim

FROM ${NODE_IMAGE} AS build
ENV PNPM_HOME=/pnpm CI=true TURBO_TELEMETRY_DISABLED=1
RUN npm install -g pnpm@10.34.9
WORKDIR /app
# Manifests first: the dependency layer is rebuilt only when a manifest or the lockfile changes.
COPY package.json pnpm-lock.yaml pnpm-workspace.yaml ./
COPY packages ./packages
COPY services ./services
COPY tests ./tests
COPY bench ./bench
COPY tsconfig.base.json turbo.json eslint.config.js ./
RUN pnpm install --frozen-lockfile
RUN pnpm run build
# Production dependencies only: reinstall from the same store without devDependencies.
RUN find . -name node_modules -type d -prune -exec rm -rf {} + \
  && pnpm install --frozen-lockfile --prod --offline \
  && rm -rf tests bench

FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build --chown=node:node /app /app
USER node
EXPOSE 3001 3002 3003
# Each service reads its configuration from the environment (and .env in the working directory).
CMD ["node", "services/jit-authorizer/dist/server.js"]
