import select, socket, struct, sys
proto, marker = int(sys.argv[1]), sys.argv[2].encode()
socks = [socket.socket(socket.AF_INET, socket.SOCK_RAW, proto), socket.socket(socket.AF_INET6, socket.SOCK_RAW, proto)]
if proto == 112:
    # VRRP goes to its groups: join them on eth0 so the kernel delivers what the table lets in
    socks[0].setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, struct.pack("4s4si", socket.inet_aton("224.0.0.18"), bytes(4), socket.if_nametoindex("eth0")))
    socks[1].setsockopt(socket.IPPROTO_IPV6, socket.IPV6_JOIN_GROUP, socket.inet_pton(socket.AF_INET6, "ff02::12") + struct.pack("@I", socket.if_nametoindex("eth0")))
print("READY", flush=True)
while True:
    for s in select.select(socks, [], [])[0]:
        data, addr = s.recvfrom(65535)
        if marker in data:
            print("RECV", addr[0], flush=True)
