"""A multipart/form-data body of files as `file` fields, as POST /api/documents
takes them; shared by the benchmarks that upload documents (grounded,
summaries). Standard library only."""

import uuid


def multipart(files):
    """files: [(name, bytes)] -> (body, content type)."""
    boundary = "pai-bench-" + uuid.uuid4().hex
    body = bytearray()
    for name, data in files:
        body += (
            f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\n"
            "Content-Type: application/octet-stream\r\n\r\n"
        ).encode()
        body += data + b"\r\n"
    body += f"--{boundary}--\r\n".encode()
    return bytes(body), f"multipart/form-data; boundary={boundary}"
