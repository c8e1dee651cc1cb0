# A TCP sink: prints READY, then one JSON line (peer, bytes, sha256) per connection it reads to the end; run by ../icmp.ts
import hashlib, json, socket, sys
addr, port = sys.argv[1], int(sys.argv[2])
s = socket.socket(socket.AF_INET6 if ":" in addr else socket.AF_INET, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((addr, port)); s.listen(4)
print("READY", flush=True)
while True:
    c, peer = s.accept()
    h = hashlib.sha256(); n = 0
    while True:
        b = c.recv(65536)
        if not b: break
        h.update(b); n += len(b)
    c.close()
    print(json.dumps({"from": peer[0], "bytes": n, "sha256": h.hexdigest()}), flush=True)
