#!/usr/bin/env bash
# A real registry (Debian's docker-registry, i.e. distribution) on 127.0.0.1
# for the tests and the bench.
#   registry.sh start DIR [open|token|htpasswd]   prints the port; DIR/pid
#   registry.sh stop DIR
# token: also starts tests/oci/token_server.py (user "tester", password
# "secret"); htpasswd: basic auth with the same user.  Every wait is bounded.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

wait_http() {   # URL: any HTTP answer within 10 s
	for _ in $(seq 100); do
		curl -s -o /dev/null "$1" && return 0
		sleep 0.1
	done
	echo "registry.sh: nothing answers on $1 after 10 s" >&2
	return 1
}

auth_yaml() {   # DIR MODE
	case $2 in
	open) ;;
	htpasswd)
		htpasswd -Bbc "$1/htpasswd" tester secret 2>/dev/null
		printf 'auth:\n  htpasswd:\n    realm: sm-test\n    path: %s/htpasswd\n' "$1" ;;
	token)
		local tport
		tport=$(free_port)
		openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=sm-test-token \
			-keyout "$1/token.key" -out "$1/token.pem" 2>/dev/null
		setsid python3 "$here/token_server.py" "$tport" "$1/token.key" "$1/token.pem" \
			>"$1/token.log" 2>&1 </dev/null &
		echo $! >"$1/token.pid"
		wait_http "http://127.0.0.1:$tport/health"
		printf 'auth:\n  token:\n    realm: http://127.0.0.1:%s/token\n    service: sm-test\n    issuer: sm-test-issuer\n    rootcertbundle: %s/token.pem\n' "$tport" "$1" ;;
	*) echo "registry.sh: unknown mode $2" >&2; return 2 ;;
	esac
}

start() {   # DIR MODE
	local dir=$1 port
	mkdir -p "$dir/storage"
	port=$(free_port)
	{
		printf 'version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: %s/storage\n  delete:\n    enabled: true\n' "$dir"
		printf 'http:\n  addr: 127.0.0.1:%s\n' "$port"
		auth_yaml "$dir" "$2"
	} >"$dir/config.yml"
	setsid docker-registry serve "$dir/config.yml" >"$dir/registry.log" 2>&1 </dev/null &
	echo $! >"$dir/pid"
	wait_http "http://127.0.0.1:$port/v2/"
	echo "$port"
}

stop() {   # DIR
	local f
	for f in "$1/pid" "$1/token.pid"; do
		[ -f "$f" ] || continue
		kill "$(cat "$f")" 2>/dev/null || true
		rm -f "$f"
	done
}

case ${1:-} in
start) start "$2" "${3:-open}" ;;
stop) stop "$2" ;;
*) echo "usage: registry.sh start DIR [open|token|htpasswd] | stop DIR" >&2; exit 2 ;;
esac
