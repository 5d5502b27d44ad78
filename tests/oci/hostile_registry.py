#!/usr/bin/env python3
"""A registry that lies, for the refusal tests.  hostile_registry.py PORTFILE

Picks a free port on 127.0.0.1, writes it to PORTFILE, then serves:
  /v2/big/manifests/1        a 5 MiB manifest (limit is 4 MiB)
  /v2/malformed/manifests/1  '{"schemaVersion": 2, "layers": [' (truncated JSON)
  /v2/mismatch/manifests/1   a valid manifest whose config blob is served
                             with the wrong bytes (digest mismatch)
  /v2/baddigest/manifests/1  a valid manifest but a lying Docker-Content-Digest
"""
import hashlib, json, sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

CONFIG = b'{"architecture":"amd64","os":"linux","config":{}}'
CONFIG_DIGEST = "sha256:" + hashlib.sha256(CONFIG).hexdigest()
MANIFEST = json.dumps({
    "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
    "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": CONFIG_DIGEST, "size": len(CONFIG)},
    "layers": []}).encode()
BIG = b'{"schemaVersion":2,"annotations":{"x":"' + b"a" * (5 << 20) + b'"}}'


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *a):
        pass

    def send(self, body, ctype="application/vnd.oci.image.manifest.v1+json", digest=None):
        self.send_response(200)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        if digest:
            self.send_header("Docker-Content-Digest", digest)
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        p = self.path
        if p == "/v2/":
            return self.send(b"{}", "application/json")
        if p == "/v2/big/manifests/1":
            return self.send(BIG)
        if p == "/v2/malformed/manifests/1":
            return self.send(b'{"schemaVersion": 2, "layers": [')
        if p in ("/v2/mismatch/manifests/1", "/v2/baddigest/manifests/1"):
            lie = "sha256:" + "0" * 64 if "baddigest" in p else None
            return self.send(MANIFEST, digest=lie)
        if p == "/v2/mismatch/blobs/" + CONFIG_DIGEST:
            return self.send(CONFIG.replace(b"amd64", b"AMD64"), "application/octet-stream")
        self.send_response(404)
        self.send_header("Content-Length", "0")
        self.end_headers()


srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
with open(sys.argv[1], "w") as f:
    f.write(str(srv.server_address[1]))
srv.serve_forever()
