#!/usr/bin/env python3
"""A webhook receiver for tests: usage webhook_sink.py PORT OUT FAIL.

Records each POST (status answered, headers, body) as one JSON line in OUT, and answers 500 to
the first FAIL requests (-1: to all), 204 after them.
"""
import http.server
import json
import sys

port, out, fail = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
seen = 0


class Handler(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        global seen
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        seen += 1
        status = 500 if fail < 0 or seen <= fail else 204
        with open(out, "a", encoding="utf-8") as f:
            f.write(json.dumps({"status": status, "path": self.path,
                                "headers": dict(self.headers),
                                "body": body.decode("utf-8")}) + "\n")
        self.send_response(status)
        self.end_headers()

    def log_message(self, *args):
        pass


server = http.server.HTTPServer(("127.0.0.1", port), Handler)
print("listening", flush=True)
server.serve_forever()
