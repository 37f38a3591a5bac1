"""The client side of ``upload-api-1g``: POST stdin to an ivrimeet API as one raw upload.

    python bench/api_client.py BASE_URL SIZE        (token in IVRIMEET_API_TOKEN)

Plain ``http.client`` with a ``Content-Length`` (as a browser sends a file),
1 MiB reads from stdin: the client costs little CPU, so the time measured is
the server's. Exits non-zero unless the API answers 201.
"""

from __future__ import annotations

import http.client
import os
import sys
from urllib.parse import urlsplit

MiB = 1024 * 1024


def main(base_url: str, size: int) -> None:
    url = urlsplit(base_url)
    connection = http.client.HTTPConnection(url.hostname or "127.0.0.1", url.port, timeout=600)
    connection.putrequest("POST", "/api/meetings")
    connection.putheader("Authorization", f"Bearer {os.environ['IVRIMEET_API_TOKEN']}")
    connection.putheader("Content-Type", "audio/wav")
    connection.putheader("Content-Length", str(size))
    connection.endheaders()
    stdin = sys.stdin.buffer
    sent = 0
    while chunk := stdin.read(MiB):
        connection.send(chunk)
        sent += len(chunk)
    answer = connection.getresponse()
    body = answer.read()
    if answer.status != 201 or sent != size:
        raise SystemExit(f"upload failed: HTTP {answer.status} after {sent} bytes: {body[:500]!r}")


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
