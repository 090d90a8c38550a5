# dinotrain in a container: `docker build -t dinotrain .` then
#   docker run --rm -v "$PWD:/work" dinotrain pretrain --data /work/images --out /work/runs/exp1
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json tsconfig.json ./
RUN npm ci --no-audit --no-fund --ignore-scripts
COPY src ./src
RUN npx tsc -p tsconfig.json

FROM node:20-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund --ignore-scripts && npm cache clean --force
COPY --from=build /app/dist ./dist
COPY bin ./bin
COPY configs ./configs
COPY examples ./examples
COPY LICENSE README.md ./
WORKDIR /work
ENTRYPOINT ["node", "/app/bin/dinotrain.js"]
CMD ["--help"]
