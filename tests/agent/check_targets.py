#!/usr/bin/env python3
"""Local servers the link-check tests point at: plain HTTP, HTTPS with a certificate from a test
CA, a self-signed one, an expired one, a port that accepts and never answers, and a closed port.

Usage: check_targets.py DIR. Writes DIR/ca.pem, then DIR/targets (NAME=PORT lines) once every
server listens, and serves until killed.
"""
import datetime
import http.server
import ipaddress
import os
import socket
import ssl
import sys
import threading
import time

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


def name(cn):
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def certificate(subject_cn, issuer_cn, public_key, signing_key, not_before, not_after, ca=False):
    builder = (
        x509.CertificateBuilder()
        .subject_name(name(subject_cn))
        .issuer_name(name(issuer_cn))
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if not ca:
        builder = builder.add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
    return builder.sign(signing_key, hashes.SHA256())


def write_pair(directory, stem, key, cert):
    key_path = os.path.join(directory, stem + ".key")
    cert_path = os.path.join(directory, stem + ".pem")
    with open(key_path, "wb") as f:
        f.write(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
    with open(cert_path, "wb") as f:
        f.write(cert.public_bytes(serialization.Encoding.PEM))
    return cert_path, key_path


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def reply(self, status, body=b"", headers=()):
        self.send_response(status)
        for key, value in headers:
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_HEAD(self):
        self.reply(200)

    def do_GET(self):
        if self.path == "/ok":
            self.reply(200, b"status: healthy\n")
        elif self.path == "/wrong":
            self.reply(503, b"status: down\n")
        elif self.path == "/redirect/a":
            self.reply(302, headers=[("Location", "/redirect/b")])
        elif self.path == "/redirect/b":
            self.reply(302, headers=[("Location", "/redirect/a")])
        elif self.path == "/redirect/once":
            self.reply(301, headers=[("Location", "/ok")])
        elif self.path == "/echo-header":
            self.reply(200, ("probe=" + self.headers.get("X-Probe", "")).encode())
        elif self.path == "/slow-body":
            # Headers at once, then ten bytes a second: only a check's overall deadline ends it.
            self.send_response(200)
            self.send_header("Content-Length", "100")
            self.end_headers()
            self.wfile.flush()
            for _ in range(10):
                self.wfile.write(b"0123456789")
                self.wfile.flush()
                time.sleep(1)
        else:
            self.reply(404, b"no such page\n")


def serve(server):
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server.server_address[1]


def tls_server(cert_path, key_path):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_path, key_path)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    return serve(server)


def hang_server():
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    held = []

    def accept():
        while True:
            conn, _ = listener.accept()
            held.append(conn)  # never read, never answered

    threading.Thread(target=accept, daemon=True).start()
    return listener.getsockname()[1]


def closed_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def main():
    directory = sys.argv[1]
    now = datetime.datetime.utcnow()
    day = datetime.timedelta(days=1)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = certificate("check test CA", "check test CA", ca_key.public_key(), ca_key,
                     now - day, now + 30 * day, ca=True)
    with open(os.path.join(directory, "ca.pem"), "wb") as f:
        f.write(ca.public_bytes(serialization.Encoding.PEM))
    good_key = ec.generate_private_key(ec.SECP256R1())
    good = certificate("localhost", "check test CA", good_key.public_key(), ca_key,
                       now - day, now + 20 * day)
    expired_key = ec.generate_private_key(ec.SECP256R1())
    expired = certificate("localhost", "check test CA", expired_key.public_key(), ca_key,
                          now - 10 * day, now - 2 * day)
    self_key = ec.generate_private_key(ec.SECP256R1())
    self_signed = certificate("localhost", "localhost", self_key.public_key(), self_key,
                              now - day, now + 90 * day)
    ports = {
        "http": serve(http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)),
        "https": tls_server(*write_pair(directory, "good", good_key, good)),
        "expired": tls_server(*write_pair(directory, "expired", expired_key, expired)),
        "selfsigned": tls_server(*write_pair(directory, "self", self_key, self_signed)),
        "hang": hang_server(),
        "closed": closed_port(),
    }
    tmp = os.path.join(directory, "targets.tmp")
    with open(tmp, "w") as f:
        for key, port in ports.items():
            f.write(f"{key}={port}\n")
    os.rename(tmp, os.path.join(directory, "targets"))
    while True:
        time.sleep(3600)


if __name__ == "__main__":
    main()
