#!/usr/bin/env python3
"""A minimal Docker registry token server for tests (distribution token auth).

    token_server.py PORT KEY.pem CERT.pem

GET /token?service=S&scope=repository:NAME:ACTIONS with HTTP basic auth
tester:secret returns {"token": JWT}; anything else is 401.  The JWT is
RS256-signed with `openssl dgst` and carries the certificate in x5c, which
the registry checks against its rootcertbundle.  GET /health answers 200.
"""
import base64, json, os, subprocess, sys, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

PORT, KEY, CERT = int(sys.argv[1]), sys.argv[2], sys.argv[3]
USER, PASSWORD = "tester", "secret"


def b64url(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def cert_der():
    pem = open(CERT).read()
    body = "".join(l for l in pem.splitlines() if "CERTIFICATE" not in l)
    return body   # standard base64 of the DER, as x5c wants


def sign(payload):
    header = {"typ": "JWT", "alg": "RS256", "x5c": [cert_der()]}
    signing_input = b64url(json.dumps(header).encode()) + "." + b64url(json.dumps(payload).encode())
    sig = subprocess.run(["openssl", "dgst", "-sha256", "-sign", KEY], input=signing_input.encode(),
                         stdout=subprocess.PIPE, check=True).stdout
    return signing_input + "." + b64url(sig)


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *a):
        pass

    def reply(self, code, body):
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def authed(self):
        h = self.headers.get("Authorization", "")
        if not h.startswith("Basic "):
            return False
        try:
            user, _, pw = base64.b64decode(h[6:]).decode().partition(":")
        except Exception:
            return False
        return user == USER and pw == PASSWORD

    def do_GET(self):
        u = urlparse(self.path)
        if u.path == "/health":
            return self.reply(200, {"ok": True})
        if u.path != "/token":
            return self.reply(404, {})
        if not self.authed():
            return self.reply(401, {"details": "bad credentials"})
        q = parse_qs(u.query)
        access = []
        for scope in q.get("scope", []):
            parts = scope.split(":")
            if len(parts) == 3:
                access.append({"type": parts[0], "name": parts[1], "actions": parts[2].split(",")})
        now = int(time.time())
        tok = sign({"iss": "sm-test-issuer", "sub": USER, "aud": q.get("service", [""])[0],
                    "exp": now + 600, "nbf": now - 10, "iat": now, "jti": os.urandom(8).hex(),
                    "access": access})
        self.reply(200, {"token": tok, "access_token": tok, "expires_in": 600})


ThreadingHTTPServer(("127.0.0.1", PORT), Handler).serve_forever()
