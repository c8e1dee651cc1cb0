import errno, json, socket, sys, time
dst, port, timeout, src = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
s = socket.socket(socket.AF_INET6 if ":" in dst else socket.AF_INET, socket.SOCK_STREAM)
s.settimeout(timeout)
if src: s.bind((src, 0))
t = time.monotonic()
banner = ""
try:
    s.connect((dst, port))
    result = "open"
    try:
        banner = s.recv(128).decode("latin-1").strip()
    except OSError:
        pass
except socket.timeout:
    result = "timeout"
except ConnectionRefusedError:
    result = "reset"
except OSError as e:
    result = errno.errorcode.get(e.errno, str(e))
print(json.dumps({"result": result, "ms": round((time.monotonic() - t) * 1000, 1), "banner": banner}))
