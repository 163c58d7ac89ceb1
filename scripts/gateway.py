#!/usr/bin/env python3
"""A stand-in for a region's gateway: an HTTP server that answers GET/HEAD /health (and every
other path) with 200 and its own name. For the demo and the tests.

  gateway.py ADDRESS PORT [--name NAME] [--status CODE]
"""
import argparse
import http.server
import socket


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("address")
    ap.add_argument("port", type=int)
    ap.add_argument("--name", default=None)
    ap.add_argument("--status", type=int, default=200)
    args = ap.parse_args()
    body = f"gateway {args.name or args.address}\n".encode()

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.0"

        def do_GET(self):
            self.send_response(args.status)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command == "GET":
                self.wfile.write(body)

        do_HEAD = do_GET

        def log_message(self, *a):
            pass

    class Server(http.server.ThreadingHTTPServer):
        address_family = socket.AF_INET6 if ":" in args.address else socket.AF_INET
        allow_reuse_address = True
        daemon_threads = True

    Server((args.address, args.port), Handler).serve_forever()


if __name__ == "__main__":
    main()
