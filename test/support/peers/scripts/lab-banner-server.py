import socket, sys
port, banner = int(sys.argv[1]), sys.argv[2].encode()
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(("0.0.0.0", port)); s.listen(16)
print("READY", flush=True)
while True:
    c, a = s.accept(); c.sendall(banner + b"\n"); c.close()
