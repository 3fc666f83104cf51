# One image for every ip2 process (api, controller, worker, cli); the command picks the role.
# Built from the lock file: `npm ci`, the Prisma client generated, TypeScript compiled.
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
COPY packages ./packages
COPY apps ./apps
COPY prisma ./prisma
COPY prisma.config.ts tsconfig.base.json tsconfig.json ./
RUN npm ci --no-audit --no-fund && npm run build && npm prune --omit=dev --no-audit --no-fund

FROM node:20-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production
COPY --from=build /app /app
USER node
CMD ["node", "apps/api/dist/main.js"]
