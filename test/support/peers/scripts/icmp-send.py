# Sends `size` random bytes over one TCP connection and prints its MSS, the path MTU the socket learned and the sha256; run by ../icmp.ts
import hashlib, json, os, socket, sys
addr, port, size, timeout = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
v6 = ":" in addr
data = os.urandom(size)
s = socket.socket(socket.AF_INET6 if v6 else socket.AF_INET, socket.SOCK_STREAM)
s.settimeout(timeout)
res = {"sha256": hashlib.sha256(data).hexdigest(), "bytes": size}
try:
    s.connect((addr, port))
    res["mss"] = s.getsockopt(socket.IPPROTO_TCP, socket.TCP_MAXSEG)
    s.sendall(data)
    s.shutdown(socket.SHUT_WR)
    while s.recv(65536): pass
    res["ok"] = True
except OSError as e:
    res["ok"] = False; res["error"] = type(e).__name__ + ": " + str(e)
try:
    # IP_MTU = 14, IPV6_MTU = 24: the path MTU of the connected socket
    res["pathMtu"] = s.getsockopt(socket.IPPROTO_IPV6, 24) if v6 else s.getsockopt(socket.IPPROTO_IP, 14)
except OSError:
    res["pathMtu"] = None
print(json.dumps(res), flush=True)
