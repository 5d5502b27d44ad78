#!/usr/bin/env bash
# The main job for now: check the host, start the built-in guest in the
# background with busybox httpd as its workload, fetch a page from it
# through the guest agent's port proxy, exec in it, and stop it.
# (Serving an OCI image on 127.0.0.1:8080 arrives with `sm run`.)
set -euo pipefail
cd "$(dirname "$0")/.."
sm=build/sm
name=demo-$$
$sm setup
trap '$sm stop --time 5 "$name" >/dev/null 2>&1 || true' EXIT
echo "demo: starting a guest serving HTTP (the first run boots it once, about a minute on hosts without VT-x/AMD-V)" >&2
$sm boot --detach --name "$name" -- /bin/sh -c \
	'mkdir -p /www && echo "hello from a supermachine guest" > /www/index.html && exec httpd -f -p 8080 -h /www'
echo "demo: GET /index.html from guest port 8080, through the vsock port proxy" >&2
$sm lua examples/http_get.lua "$name" 8080 /index.html
echo "demo: sm exec $name -- uname -sr" >&2
$sm exec "$name" -- /bin/uname -sr
