import socket, struct, sys
def crc32c(data):
    # the checksum SCTP carries (RFC 4960 appendix B); conntrack drops an SCTP packet whose checksum is wrong
    crc = 0xFFFFFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
    return crc ^ 0xFFFFFFFF
dst, proto, port, marker = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4].encode()
body = marker.ljust(16, b".")
if proto == 50:    # ESP: SPI, sequence number, then what would be ciphertext
    packet = struct.pack(">II", 0x1000, 1) + body
elif proto == 51:  # AH: next header ESP (50), length 4 (24 bytes), reserved, SPI, sequence, 12-byte ICV; then the ESP it authenticates
    # (AH announcing no next header at all would be invalid to conntrack over IPv6, and dropped as such)
    packet = struct.pack(">BBHII", 50, 4, 0, 0x1000, 1) + bytes(12) + struct.pack(">II", 0x2000, 1) + body
elif proto == 47:  # GRE: no flags, version 0, carrying IPv4 (0x0800)
    packet = struct.pack(">HH", 0, 0x0800) + body
elif proto == 132: # SCTP: ports, verification tag 0, checksum; one INIT chunk with the marker as an optional parameter
    param = struct.pack(">HH", 0x8001, 4 + len(body)) + body
    init = struct.pack(">BBHIIHHI", 1, 0, 20 + len(param), 0x1234, 65535, 1, 1, 1) + param
    header = struct.pack(">HHI", 40000, port, 0)
    packet = header + struct.pack("<I", crc32c(header + b"\0\0\0\0" + init)) + init
elif proto == 2:   # IGMPv2 membership report for 239.1.2.3 (checksum left 0: the table does not read it)
    packet = struct.pack(">BBH4s", 0x16, 0, 0, socket.inet_aton("239.1.2.3")) + body
elif proto == 112: # VRRPv3 advertisement: version 3 type 1, router 51, priority 100, no addresses
    packet = struct.pack(">BBBBHH", 0x31, 51, 100, 0, 100, 0) + body
family = socket.AF_INET6 if ":" in dst else socket.AF_INET
s = socket.socket(family, socket.SOCK_RAW, proto)
if dst.startswith("ff02:"):
    # a link-local group: out of eth0, with the hop limit VRRP requires
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_IF, socket.if_nametoindex("eth0"))
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_HOPS, 255)
elif dst.startswith("224."):
    s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 255)
    s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton(sys.argv[5]))
for _ in range(3):
    s.sendto(packet, (dst, 0, 0, socket.if_nametoindex("eth0")) if dst.startswith("ff02:") else (dst, 0))
