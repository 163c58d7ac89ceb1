#!/usr/bin/env python3
"""A gateway that fails the checks of some sources: an HTTP server on ADDRESS:PORT answering 200
to every client except those whose source address is in --refuse, which get a closed connection
(as a firewall rejecting one vantage point would, or a path that only one region cannot use).

  srcgw.py ADDRESS PORT [--refuse 127.0.0.11,127.0.0.12]
"""
import argparse
import http.server
import socketserver


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("address")
    ap.add_argument("port", type=int)
    ap.add_argument("--refuse", default="")
    args = ap.parse_args()
    refused = {a for a in args.refuse.split(",") if a}

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.0"

        def do_GET(self):
            body = b"ok\n"
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *a):
            pass

    class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
        daemon_threads = True
        allow_reuse_address = True

        def verify_request(self, request, client_address):
            return client_address[0] not in refused

    srv = Server((args.address, args.port), Handler)
    print("ready", flush=True)
    srv.serve_forever()


if __name__ == "__main__":
    main()
