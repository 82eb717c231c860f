"""What the Python compatibility scenarios share: naming, failing, and checking a message."""
import os
import sys
import uuid

BOOTSTRAP = os.environ["BOOTSTRAP"]


def names(client):
    topic = f"compat-{client}-{uuid.uuid4().hex[:8]}"
    return topic, f"g-{topic}"


def fail(client, message):
    print(f"FAIL {client}: {message}")
    sys.exit(1)


def check(client, key, value, headers, seen):
    """Key k<n> must carry value v<n> and header n=<n>, and arrive only once."""
    n = key[1:]
    if value != f"v{n}" or headers.get("n") != n:
        fail(client, f"message {key} has value {value} headers {headers}")
    if key in seen:
        fail(client, f"{key} delivered twice")
    seen.add(key)


def done(client, seen):
    if len(seen) != 1000:
        fail(client, f"{len(seen)} distinct messages instead of 1000")
    print(f"PASS {client}")
