#!/usr/bin/env bash
# The main job: build a small real OCI image locally (busybox httpd, once,
# cached in build/demo), run it with `sm run --detach`, fetch a page from
# http://127.0.0.1:PORT/ with curl, show `sm ps`, `sm logs` and `sm exec`,
# and stop it.  PORT is $SM_HTTP_PORT, else 8080.
set -euo pipefail
cd "$(dirname "$0")/.."
sm=$PWD/build/sm
port=${SM_HTTP_PORT:-8080}
image=build/demo/web
say() { echo "demo: $*" >&2; }
$sm setup
if [ ! -s "$image/index.json" ]; then
	say "building the demo image (busybox httpd) into $image"
	rm -rf "$image"
	python3 tests/oci/mkimage.py web "$image"
fi
trap '$sm run --stop --http-port "$port" >/dev/null 2>&1 || true' EXIT
say "sm run oci-layout:$image:1 --detach (the first run bakes a snapshot; later runs restore it)"
SM_RUN_TRACE=${SM_RUN_TRACE:-1} $sm run "oci-layout:$image:1" --detach --name demo-web --memory 128 --http-port "$port"
say "curl http://127.0.0.1:$port/"
curl -sS -m 60 -i "http://127.0.0.1:$port/"
say "curl http://127.0.0.1:$port/_health"
curl -sS -m 10 "http://127.0.0.1:$port/_health"; echo
say "sm ps"
$sm ps
say "sm logs $port"
$sm logs "$port"
say "sm exec $port -- uname -sr"
$sm exec "$port" -- uname -sr
say "sm run --stop --http-port $port"
$sm run --stop --http-port "$port"
trap - EXIT
say "done"
