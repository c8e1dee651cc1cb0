# The forger (see FORGE_SCRIPT in ../icmp.ts): ICMP and ICMPv6 errors "about" a UDP packet server:sport -> me:dport
import socket, struct, sys
server4, server6, me4, me6, sport = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])
ports = [int(p) for p in sys.argv[6].split(",")]
def csum(b):
    if len(b) % 2: b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16: s = (s & 0xffff) + (s >> 16)
    return (~s) & 0xffff
r4 = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
r6 = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6)
for dport in ports:
    udp = struct.pack("!HHHH", sport, dport, 8 + 17, 0)
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + 8 + 17, 1, 0, 64, 17, 0, socket.inet_aton(server4), socket.inet_aton(me4))
    ip = ip[:10] + struct.pack("!H", csum(ip)) + ip[12:]
    body = struct.pack("!BBHI", 3, 13, 0, 0) + ip + udp
    body = body[:2] + struct.pack("!H", csum(body)) + body[4:]
    r4.sendto(body, (server4, 0))
    ip6 = struct.pack("!IHBB16s16s", 6 << 28, 8 + 17, 17, 64, socket.inet_pton(socket.AF_INET6, server6), socket.inet_pton(socket.AF_INET6, me6))
    # the kernel fills in the ICMPv6 checksum of a raw ICMPv6 socket
    r6.sendto(struct.pack("!BBHI", 1, 1, 0, 0) + ip6 + udp, (server6, 0))
print("SENT", flush=True)
