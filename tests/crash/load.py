"""Writes to a pai server that is being killed with SIGKILL, and checks that
every write it acknowledged (2xx) is there after the restarts.

    load.py write URL KEY COUNT LEDGER   mixed writes; one ledger line per acknowledgement
    load.py verify URL KEY LEDGER        every ledger entry read back; prints "acknowledged N lost M"

A write whose connection broke is not acknowledged and not counted: the
client retries with a new text. Standard library only.
"""
import http.client
import json
import os
import sys
import time
import urllib.parse


def request(url, key, method, path, body=None, headers=None):
    u = urllib.parse.urlparse(url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=60)
    h = {"Authorization": f"Bearer {key}"}
    h.update(headers or {})
    if isinstance(body, (dict, list)):
        body = json.dumps(body).encode()
        h["Content-Type"] = "application/json"
    conn.request(method, path, body=body, headers=h)
    r = conn.getresponse()
    data = r.read()
    conn.close()
    return r.status, data


def multipart(name, text):
    boundary = "paicrash" + os.urandom(8).hex()
    body = (
        f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\n"
        f"Content-Type: text/plain\r\n\r\n{text}\r\n--{boundary}--\r\n"
    ).encode()
    return body, {"Content-Type": f"multipart/form-data; boundary={boundary}"}


def one_write(url, key, i):
    """(kind, id, text) when acknowledged; None when the server was not there."""
    text = f"crash-{os.getpid()}-{i}-{time.time_ns()}"
    kind = ["memory", "reminder", "conversation", "document", "import"][i % 5]
    if kind == "memory":
        status, data = request(url, key, "POST", "/api/memories", {"text": f"I keep {text} in mind"})
        ident = json.loads(data)["id"] if status == 201 else None
    elif kind == "reminder":
        status, data = request(url, key, "POST", "/api/reminders", {"text": f"check {text}", "when": "tomorrow 9am"})
        ident = json.loads(data)["id"] if status == 201 else None
    elif kind == "conversation":
        status, data = request(url, key, "POST", "/api/conversations", {"title": f"talk {text}"})
        ident = json.loads(data)["id"] if status == 201 else None
    elif kind == "import":
        file = {"title": f"chat {text}", "messages": [
            {"role": "user", "content": f"I moved to Busan ({text})", "created_at": "2026-03-01T10:00:00+09:00"},
            {"role": "assistant", "content": "Noted", "created_at": "2026-03-01T10:01:00+09:00"}]}
        status, data = request(url, key, "POST", f"/api/imports?name={text}.json", file)
        ident = json.loads(data)["id"] if status == 202 else None
    else:
        body, headers = multipart(f"{text}.txt", f"The note {text} says the boiler code is 4417.")
        status, data = request(url, key, "POST", "/api/documents", body, headers)
        ident = json.loads(data)["data"][0]["document"]["id"] if status == 201 else None
    if not 200 <= status < 300:
        raise SystemExit(f"write {i} ({kind}) refused: {status} {data[:200]!r}")
    return kind, ident, text


def write(url, key, count, ledger):
    done = 0
    with open(ledger, "a") as out:
        i = 0
        while done < count:
            i += 1
            try:
                kind, ident, text = one_write(url, key, i)
            except (OSError, http.client.HTTPException):
                time.sleep(0.2)  # killed: wait for the restart
                continue
            out.write(json.dumps({"kind": kind, "id": ident, "text": text}) + "\n")
            out.flush()
            os.fsync(out.fileno())
            done += 1


PATHS = {"memory": "/api/memories/{}", "reminder": "/api/reminders/{}",
         "conversation": "/api/conversations/{}", "document": "/api/documents/{}",
         "import": "/api/imports/{}"}


def verify(url, key, ledger):
    entries = [json.loads(line) for line in open(ledger) if line.strip()]
    lost = []
    for e in entries:
        status, data = request(url, key, "GET", PATHS[e["kind"]].format(e["id"]))
        if status != 200 or e["text"] not in data.decode():
            lost.append((e, status))
        elif e["kind"] == "import" and json.loads(data)["state"] == "running":
            lost.append((e, "still running after the restart"))
    kinds = {k: sum(1 for e in entries if e["kind"] == k) for k in PATHS}
    print(f"acknowledged {len(entries)} ({', '.join(f'{n} {k}' for k, n in kinds.items())}) lost {len(lost)}")
    for e, status in lost[:10]:
        print(f"  lost: {e} (GET {status})")
    return 1 if lost else 0


if __name__ == "__main__":
    cmd, url, key = sys.argv[1:4]
    if cmd == "write":
        write(url, key, int(sys.argv[4]), sys.argv[5])
    elif cmd == "verify":
        sys.exit(verify(url, key, sys.argv[4]))
    else:
        raise SystemExit(__doc__)
