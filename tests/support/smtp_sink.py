"""A real SMTP server on loopback for the e-mail tests: every message it accepts is written to
DIR as a JSON file (envelope sender, recipients, raw message). With USER and PASSWORD it asks
clients to sign in (AUTH PLAIN/LOGIN, allowed without TLS on loopback) and refuses any other
password.

    python smtp_sink.py PORT DIR [USER PASSWORD]
"""

import asyncio
import json
import os
import sys
import uuid

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult


class Sink:
    def __init__(self, directory):
        self.directory = directory

    async def handle_DATA(self, server, session, envelope):
        record = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": envelope.rcpt_tos,
            "data": envelope.content.decode("utf-8", "replace"),
        }
        name = os.path.join(self.directory, uuid.uuid4().hex)
        with open(name + ".tmp", "w") as f:
            json.dump(record, f)
        os.rename(name + ".tmp", name + ".json")
        return "250 OK"


def main():
    port, directory = int(sys.argv[1]), sys.argv[2]
    kwargs = {}
    if len(sys.argv) > 4:
        user, password = sys.argv[3].encode(), sys.argv[4].encode()

        def authenticator(server, session, envelope, mechanism, auth_data):
            ok = auth_data.login == user and auth_data.password == password
            return AuthResult(success=ok, handled=False)

        kwargs = {
            "authenticator": authenticator,
            "auth_required": True,
            "auth_require_tls": False,
        }
    controller = Controller(Sink(directory), hostname="127.0.0.1", port=port, **kwargs)
    controller.start()
    print("ready", flush=True)
    try:
        asyncio.get_event_loop().run_until_complete(asyncio.Event().wait())
    except KeyboardInterrupt:
        pass
    finally:
        controller.stop()


if __name__ == "__main__":
    main()
