import errno, json, socket, sys, time
dst, port, timeout, src = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
s = socket.socket(socket.AF_INET6 if ":" in dst else socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(timeout)
if src: s.bind((src, 0))
s.connect((dst, port))
t = time.monotonic()
try:
    s.send(b"hnft-datagram\n")
    s.recv(512)
    result = "reply"
except socket.timeout:
    result = "timeout"
except OSError as e:
    result = errno.errorcode.get(e.errno, str(e))
print(json.dumps({"result": result, "ms": round((time.monotonic() - t) * 1000, 1), "banner": ""}))
