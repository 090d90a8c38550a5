# dinotrain in a container: `docker build -t dinotrain .` then
#   docker run --rm --user "$(id -u):$(id -g)" -v "$PWD:/work" dinotrain pretrain --data /work/images --out /work/runs/exp1
# test/cli/dockerfile.test.ts replays this file without a container engine (what that covers: its header comment).
#
# Both `npm ci` below pass --ignore-scripts: node:20 images have npm 10, which ignores package.json's allowScripts and
# would run the dependencies' install scripts (onnxruntime-node's downloads its CUDA provider from NuGet). No other
# command in the image installs packages, so ONNXRUNTIME_NODE_INSTALL=skip would change nothing.
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json tsconfig.json ./
# --ignore-scripts also skips dinotrain's own `prepare` (and src/ is not here yet): the build is the next RUN
RUN npm ci --no-audit --no-fund --ignore-scripts
COPY src ./src
RUN npm run build

FROM node:20-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production
COPY package.json package-lock.json ./
# --omit=dev: no TypeScript, tsx or type packages at run time; --ignore-scripts: no `prepare` (tsc is not installed).
# onnxruntime-node ships its macOS and Windows libraries too: they are removed.
RUN npm ci --omit=dev --no-audit --no-fund --ignore-scripts \
 && rm -rf node_modules/onnxruntime-node/bin/napi-v6/darwin node_modules/onnxruntime-node/bin/napi-v6/win32 \
 && npm cache clean --force
COPY --from=build /app/dist ./dist
COPY bin ./bin
COPY configs ./configs
COPY examples ./examples
COPY LICENSE README.md ./
WORKDIR /work
ENTRYPOINT ["node", "/app/bin/dinotrain.js"]
CMD ["--help"]
