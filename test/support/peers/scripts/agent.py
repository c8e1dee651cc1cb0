# the stdlib-only agent of ../agent.ts: probes, listeners, scans and the exploit actors (one command per run, one JSON line out)
import errno, json, socket, struct, sys, threading, time

def fam(addr):
    return socket.AF_INET6 if ":" in addr else socket.AF_INET

def out(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()

def say(*parts):
    sys.stdout.write(" ".join(str(p) for p in parts) + "\n")
    sys.stdout.flush()

def tcp_probe(addr, port, timeout_ms, read_banner=True):
    s = socket.socket(fam(addr), socket.SOCK_STREAM)
    s.settimeout(timeout_ms / 1000.0)
    t0 = time.time()
    try:
        s.connect((addr, port))
    except socket.timeout:
        return {"state": "filtered", "detail": "timeout", "ms": int((time.time() - t0) * 1000)}
    except ConnectionRefusedError:
        return {"state": "closed", "detail": "refused", "ms": int((time.time() - t0) * 1000)}
    except OSError as e:
        return {"state": "filtered", "detail": errno.errorcode.get(e.errno, str(e)), "ms": int((time.time() - t0) * 1000)}
    banner = ""
    if read_banner:
        s.settimeout(min(timeout_ms / 1000.0, 1.0))
        try:
            banner = s.recv(256).decode("latin-1")
        except OSError:
            pass
    s.close()
    return {"state": "open", "banner": banner, "ms": int((time.time() - t0) * 1000)}

def udp_probe(addr, port, timeout_ms, payload=b"probe\n"):
    s = socket.socket(fam(addr), socket.SOCK_DGRAM)
    s.settimeout(timeout_ms / 1000.0)
    try:
        s.connect((addr, port))
        s.send(payload)
        data = s.recv(65535)
        return {"state": "open", "reply": data.decode("latin-1")}
    except socket.timeout:
        return {"state": "filtered", "detail": "no reply (open|filtered)"}
    except ConnectionRefusedError:
        return {"state": "closed", "detail": "icmp port unreachable"}
    except OSError as e:
        return {"state": "filtered", "detail": errno.errorcode.get(e.errno, str(e))}
    finally:
        s.close()

def cmd_tcp_listen(addr, port, banner):
    s = socket.socket(fam(addr), socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((addr, int(port)))
    s.listen(64)
    say("READY")
    while True:
        c, peer = s.accept()
        say("ACCEPT", peer[0], peer[1])
        try:
            c.sendall((banner + "\n").encode())
            c.shutdown(socket.SHUT_WR)
        except OSError:
            pass
        c.close()

def cmd_udp_echo(addr, port):
    s = socket.socket(fam(addr), socket.SOCK_DGRAM)
    s.bind((addr, int(port)))
    say("READY")
    while True:
        data, peer = s.recvfrom(65535)
        say("RECV", peer[0], peer[1], len(data))
        s.sendto(data, peer)

def cmd_send_udp(addr, port, payload, wait_ms, sport):
    s = socket.socket(fam(addr), socket.SOCK_DGRAM)
    if int(sport) > 0:
        s.bind(("::" if ":" in addr else "0.0.0.0", int(sport)))
    s.connect((addr, int(port)))
    res = {"sent": True, "localPort": s.getsockname()[1], "reply": None, "refused": False}
    s.send(payload.encode())
    if int(wait_ms) > 0:
        s.settimeout(int(wait_ms) / 1000.0)
        try:
            res["reply"] = s.recv(65535).decode("latin-1")
        except socket.timeout:
            pass
        except ConnectionRefusedError:
            res["refused"] = True
    out(res)

def cmd_scan(addr, timeout_ms, tcp_ports, udp_ports):
    res = {"tcp": {}, "udp": {}}
    lock = threading.Lock()
    def run(kind, p):
        r = tcp_probe(addr, p, timeout_ms, False) if kind == "tcp" else udp_probe(addr, p, timeout_ms)
        with lock:
            res[kind][str(p)] = r["state"]
    threads = [threading.Thread(target=run, args=("tcp", p)) for p in tcp_ports]
    threads += [threading.Thread(target=run, args=("udp", p)) for p in udp_ports]
    for i in range(0, len(threads), 64):
        batch = threads[i:i + 64]
        for t in batch:
            t.start()
        for t in batch:
            t.join()
    out(res)

def csum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    s = (s >> 16) + (s & 0xFFFF)
    s += s >> 16
    return (~s) & 0xFFFF

def inner_icmp(src, dst, icmp_type, ident, seq, payload):
    icmp = struct.pack("!BBHHH", icmp_type, 0, 0, ident, seq) + payload
    icmp = icmp[:2] + struct.pack("!H", csum(icmp)) + icmp[4:]
    hdr = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(icmp), ident, 0, 64, 1, 0,
                      socket.inet_aton(src), socket.inet_aton(dst))
    hdr = hdr[:10] + struct.pack("!H", csum(hdr)) + hdr[12:]
    return hdr + icmp

def gre_wrap(inner):
    # RFC 2784: no checksum/key/sequence, version 0, protocol type IPv4
    return struct.pack("!HH", 0, 0x0800) + inner

def gre_parse(pkt):
    # IPv4 raw sockets deliver the outer IP header too
    ihl = (pkt[0] & 0x0F) * 4
    outer_src = socket.inet_ntoa(pkt[12:16])
    gre = pkt[ihl:]
    if len(gre) < 4:
        return outer_src, None
    flags, proto = struct.unpack("!HH", gre[:4])
    off = 4 + (4 if flags & 0x8000 else 0) + (4 if flags & 0x2000 else 0) + (4 if flags & 0x1000 else 0)
    if proto != 0x0800:
        return outer_src, None
    inner = gre[off:]
    if len(inner) < 28:
        return outer_src, None
    iihl = (inner[0] & 0x0F) * 4
    if inner[9] != 1:
        return outer_src, None
    itype, _, _, ident, seq = struct.unpack("!BBHHH", inner[iihl:iihl + 8])
    return outer_src, {"src": socket.inet_ntoa(inner[12:16]), "dst": socket.inet_ntoa(inner[16:20]),
                       "type": itype, "id": ident, "seq": seq, "payload": inner[iihl + 8:]}

def cmd_gre_responder(local, inner_local):
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, 47)
    s.bind((local, 0))
    say("READY")
    while True:
        pkt, _ = s.recvfrom(65535)
        src, icmp = gre_parse(pkt)
        if icmp is None or icmp["type"] != 8 or icmp["dst"] != inner_local:
            continue
        say("ECHO", src, icmp["src"], icmp["seq"])
        s.sendto(gre_wrap(inner_icmp(icmp["dst"], icmp["src"], 0, icmp["id"], icmp["seq"], icmp["payload"])), (src, 0))

def cmd_gre_ping(local, remote, inner_src, inner_dst, count, timeout_ms):
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, 47)
    s.bind((local, 0))
    ident = (int(time.time() * 1000) ^ 0x5A5A) & 0xFFFF
    received = 0
    for seq in range(1, int(count) + 1):
        s.sendto(gre_wrap(inner_icmp(inner_src, inner_dst, 8, ident, seq, b"hnft-gre-%d" % seq)), (remote, 0))
        deadline = time.time() + int(timeout_ms) / 1000.0
        while True:
            left = deadline - time.time()
            if left <= 0:
                break
            s.settimeout(left)
            try:
                pkt, _ = s.recvfrom(65535)
            except socket.timeout:
                break
            src, icmp = gre_parse(pkt)
            if icmp and src == remote and icmp["type"] == 0 and icmp["id"] == ident and icmp["seq"] == seq:
                received += 1
                break
    out({"sent": int(count), "received": received})

def cmd_icmp_ping(addr, count, timeout_ms):
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
    ident = (int(time.time() * 1000) ^ 0xA5A5) & 0xFFFF
    received = 0
    for seq in range(1, int(count) + 1):
        icmp = struct.pack("!BBHHH", 8, 0, 0, ident, seq) + b"hnft-ping"
        icmp = icmp[:2] + struct.pack("!H", csum(icmp)) + icmp[4:]
        s.sendto(icmp, (addr, 0))
        deadline = time.time() + int(timeout_ms) / 1000.0
        while True:
            left = deadline - time.time()
            if left <= 0:
                break
            s.settimeout(left)
            try:
                pkt, peer = s.recvfrom(65535)
            except socket.timeout:
                break
            ihl = (pkt[0] & 0x0F) * 4
            t, _, _, i, q = struct.unpack("!BBHHH", pkt[ihl:ihl + 8])
            if peer[0] == addr and t == 0 and i == ident and q == seq:
                received += 1
                break
    out({"sent": int(count), "received": received})

def cmd_ftp_victim(server, port, own_ip, listen_port, hold_ms):
    s = socket.socket(fam(server), socket.SOCK_STREAM)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    s.settimeout(5)
    s.connect((server, int(port)))
    say("BANNER", s.recv(512).decode("latin-1").strip())
    # The helper parses only a segment that starts right after a newline it has already seen:
    # one complete line first, in its own segment, then PORT in the next one.
    s.sendall(b"USER anonymous\r\n")
    say("REPLY", s.recv(512).decode("latin-1").strip())
    lp = int(listen_port)
    cmd = "PORT %s,%d,%d\r\n" % (own_ip.replace(".", ","), lp >> 8, lp & 0xFF)
    s.sendall(cmd.encode())
    say("REPLY", s.recv(512).decode("latin-1").strip())
    say("SENT", cmd.strip())
    time.sleep(int(hold_ms) / 1000.0)
    s.close()

def cmd_fake_ftpd(addr, port):
    s = socket.socket(fam(addr), socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((addr, int(port)))
    s.listen(8)
    say("READY")
    while True:
        c, peer = s.accept()
        say("ACCEPT", peer[0], peer[1])
        c.sendall(b"220 hnft fake ftp\r\n")
        buf = b""
        while True:
            try:
                d = c.recv(1024)
            except OSError:
                break
            if not d:
                break
            buf += d
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                line = line.decode("latin-1").strip()
                say("LINE", line)
                u = line.upper()
                if u.startswith("USER"):
                    c.sendall(b"331 any password\r\n")
                elif u.startswith("PORT"):
                    c.sendall(b"200 PORT command successful\r\n")
                else:
                    c.sendall(b"502 not implemented\r\n")
        c.close()

def ports(spec):
    return [int(p) for p in spec.split(",") if p]

def main(a):
    cmd, a = a[0], a[1:]
    if cmd == "tcp-listen":
        cmd_tcp_listen(a[0], a[1], a[2])
    elif cmd == "udp-echo":
        cmd_udp_echo(a[0], a[1])
    elif cmd == "tcp-probe":
        out(tcp_probe(a[0], int(a[1]), int(a[2])))
    elif cmd == "udp-probe":
        out(udp_probe(a[0], int(a[1]), int(a[2]), a[3].encode()))
    elif cmd == "send-udp":
        cmd_send_udp(a[0], a[1], a[2], a[3], a[4])
    elif cmd == "scan":
        cmd_scan(a[0], int(a[1]), ports(a[2]), ports(a[3]))
    elif cmd == "gre-responder":
        cmd_gre_responder(a[0], a[1])
    elif cmd == "gre-ping":
        cmd_gre_ping(*a)
    elif cmd == "icmp-ping":
        cmd_icmp_ping(*a)
    elif cmd == "ftp-victim":
        cmd_ftp_victim(*a)
    elif cmd == "fake-ftpd":
        cmd_fake_ftpd(a[0], a[1])
    else:
        raise SystemExit("unknown command " + cmd)

try:
    main(sys.argv[1:])
except KeyboardInterrupt:
    pass
