# The watcher on the firewalled host (see WATCH_SCRIPT in ../icmp.ts): which forged ICMP errors the table let in
import json, select, socket, sys, time
peer4, peer6, sport, dport, timeout = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5])
r4 = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
r6 = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6)
for fam, peer in ((socket.AF_INET, peer4), (socket.AF_INET6, peer6)):
    u = socket.socket(fam, socket.SOCK_DGRAM)
    u.bind(("", sport))
    u.sendto(b"hnft-tracked-flow", (peer, dport))
    u.close()
print("READY", flush=True)
seen = []
related = set()
end = time.time() + timeout
while len(related) < 2 and time.time() < end:
    ready, _, _ = select.select([r4, r6], [], [], max(0.0, end - time.time()))
    for s in ready:
        pkt = s.recv(65535)
        if s is r4:
            ihl = (pkt[0] & 15) * 4
            icmp = pkt[ihl:]
            if len(icmp) < 8 or icmp[0] != 3 or icmp[1] != 13: continue
            inner = icmp[8:]
            ul = inner[(inner[0] & 15) * 4:]
            fam = 4
        else:
            icmp = pkt
            if len(icmp) < 8 or icmp[0] != 1 or icmp[1] != 1: continue
            ul = icmp[8 + 40:]
            fam = 6
        port = int.from_bytes(ul[2:4], "big")
        seen.append({"family": fam, "dport": port})
        if port == dport: related.add(fam)
print(json.dumps({"seen": seen}), flush=True)
