"""A real SMTP server for the notification tests: Debian's aiosmtpd, receiving over STARTTLS
(required when a certificate is given) with or without a login, and writing each message it
accepts as one JSON file (envelope, whether TLS was on, who logged in, the raw message) into a
folder the test reads. Runs until killed.

    /usr/bin/python3 smtp_sink.py --port P --dir D [--cert C --key K [--implicit]] [--login user:password]
"""

import argparse
import json
import os
import socket
import ssl
import sys
import time

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


class Store:
    def __init__(self, folder):
        self.folder = folder
        self.count = 0

    async def handle_DATA(self, server, session, envelope):
        self.count += 1
        record = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": envelope.rcpt_tos,
            "tls": session.ssl is not None,
            "login": session.auth_data.login.decode()
            if isinstance(session.auth_data, LoginPassword)
            else None,
            "data": envelope.content.decode("utf-8", "replace"),
        }
        name = os.path.join(self.folder, f"{time.time_ns()}-{self.count}.json")
        with open(name + ".tmp", "w") as f:
            json.dump(record, f)
        os.rename(name + ".tmp", name)
        return "250 OK stored"


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=0, help="0: a free port, printed as `ready PORT`")
    parser.add_argument("--dir", required=True)
    parser.add_argument("--cert")
    parser.add_argument("--key")
    parser.add_argument("--login")
    parser.add_argument("--implicit", action="store_true", help="TLS from the first byte (SMTPS)")
    args = parser.parse_args()

    tls = None
    if args.cert:
        tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        tls.load_cert_chain(args.cert, args.key)

    authenticator = None
    if args.login:
        user, password = args.login.split(":", 1)

        def authenticator(server, session, envelope, mechanism, data):
            ok = (
                isinstance(data, LoginPassword)
                and data.login.decode() == user
                and data.password.decode() == password
            )
            return AuthResult(success=ok, handled=False, auth_data=data)

    implicit = tls if args.implicit else None
    starttls = None if args.implicit else tls
    def make(port):
        return Controller(
            Store(args.dir),
            hostname="127.0.0.1",
            port=port,
            server_hostname="localhost",
            ssl_context=implicit,
            tls_context=starttls,
            require_starttls=starttls is not None,
            authenticator=authenticator,
            auth_required=authenticator is not None,
            # With implicit TLS the whole connection is encrypted; aiosmtpd 1.4 does not count it as TLS.
            auth_require_tls=starttls is not None,
        )

    # aiosmtpd binds the port itself and checks it with a connection to that port, so it cannot
    # take port 0: a free port is picked, and picked again if another process took it first.
    for attempt in range(20):
        port = args.port or free_port()
        controller = make(port)
        try:
            controller.start()
            break
        except (OSError, RuntimeError) as error:
            if args.port or attempt == 19:
                raise
            print(f"port {port} taken ({error}); trying another", file=sys.stderr, flush=True)
    print(f"ready {port}", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        controller.stop()


if __name__ == "__main__":
    sys.exit(main())
