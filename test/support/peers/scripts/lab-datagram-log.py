import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("0.0.0.0", int(sys.argv[1])))
print("READY", flush=True)
while True:
    d, a = s.recvfrom(2048); print("RECV", a[0], flush=True)
