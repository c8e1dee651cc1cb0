# IRC clients for the DCC proof (hello, DCC SEND and GET through the server), run by ../irc.ts
import hashlib, json, os, socket, struct, sys, time

def out(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()

def fam(addr):
    return socket.AF_INET6 if ":" in addr else socket.AF_INET

class Irc:
    def __init__(self, server, port, nick, timeout):
        self.s = socket.create_connection((server, int(port)), timeout=timeout)
        self.s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""
        self.nick = nick
        self.send("NICK %s" % nick)
        self.send("USER %s 0 * :hnft %s" % (nick, nick))
        self.wait(lambda l: l.split(" ")[1:2] == ["001"])
    def send(self, line):
        self.s.sendall((line + "\r\n").encode())
    def lines(self):
        while True:
            while b"\r\n" in self.buf:
                l, self.buf = self.buf.split(b"\r\n", 1)
                l = l.decode("latin-1")
                if l.startswith("PING "):
                    self.send("PONG " + l[5:])
                    continue
                yield l
            d = self.s.recv(4096)
            if not d:
                raise EOFError("server closed the connection")
            self.buf += d
    def wait(self, pred):
        for l in self.lines():
            if pred(l):
                return l

def dcc_addr(ip):
    return ip if ":" in ip else str(struct.unpack("!I", socket.inet_aton(ip))[0])

def cmd_send(server, port, nick, target, path, own_ip, dcc_port, accept_ms):
    data = open(path, "rb").read()
    irc = Irc(server, port, nick, 10)
    while True:
        irc.send("ISON %s" % target)
        l = irc.wait(lambda l: l.split(" ")[1:2] == ["303"])
        if target in l.split(":")[-1].split():
            break
        time.sleep(0.1)
    ls = socket.socket(fam(own_ip), socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind((own_ip, int(dcc_port)))
    ls.listen(1)
    offer = "PRIVMSG %s :\x01DCC SEND %s %s %d %d\x01" % (target, os.path.basename(path), dcc_addr(own_ip), int(dcc_port), len(data))
    irc.send(offer)
    res = {"offered": True, "accepted": False, "from": None, "sent": 0}
    ls.settimeout(int(accept_ms) / 1000.0)
    try:
        c, peer = ls.accept()
    except socket.timeout:
        out(res)
        return
    res["accepted"] = True
    res["from"] = peer[0]
    c.settimeout(10)
    c.sendall(data)
    res["sent"] = len(data)
    got = 0
    while got < len(data):
        a = c.recv(4)
        if len(a) < 4:
            break
        got = struct.unpack("!I", a)[0]
    res["acked"] = got
    c.close()
    irc.send("QUIT :done")
    out(res)

def cmd_get(server, port, nick, wait_ms, connect_ms):
    irc = Irc(server, port, nick, 10)
    print("READY", flush=True)
    irc.s.settimeout(int(wait_ms) / 1000.0)
    res = {"offer": None, "ok": False, "bytes": 0, "sha256": None, "error": None}
    try:
        l = irc.wait(lambda l: "\x01DCC SEND " in l)
    except (socket.timeout, EOFError) as e:
        res["error"] = "no offer: %s" % e
        out(res)
        return
    parts = l.split("\x01DCC SEND ", 1)[1].rstrip("\x01").split(" ")
    name, ip, dport, size = parts[0], parts[1], int(parts[2]), int(parts[3])
    if ":" not in ip:
        ip = socket.inet_ntoa(struct.pack("!I", int(ip)))
    res["offer"] = {"from": l[1:].split("!")[0], "file": name, "ip": ip, "port": dport, "size": size}
    d = socket.socket(fam(ip), socket.SOCK_STREAM)
    d.settimeout(int(connect_ms) / 1000.0)
    try:
        d.connect((ip, dport))
    except socket.timeout:
        res["error"] = "DCC connect to %s port %d: timed out" % (ip, dport)
        out(res)
        return
    except OSError as e:
        res["error"] = "DCC connect to %s port %d: %s" % (ip, dport, e)
        out(res)
        return
    h = hashlib.sha256()
    n = 0
    d.settimeout(10)
    while n < size:
        b = d.recv(65536)
        if not b:
            break
        n += len(b)
        h.update(b)
        d.sendall(struct.pack("!I", n & 0xFFFFFFFF))
    d.close()
    irc.send("QUIT :done")
    res.update({"ok": n == size, "bytes": n, "sha256": h.hexdigest()})
    out(res)

def cmd_hello(server, port, nick, timeout_ms):
    try:
        irc = Irc(server, port, nick, int(timeout_ms) / 1000.0)
        irc.send("QUIT :bye")
        out({"registered": True, "error": None})
    except socket.timeout:
        out({"registered": False, "error": "connect to %s port %s: timed out" % (server, port)})
    except OSError as e:
        out({"registered": False, "error": "connect to %s port %s: %s" % (server, port, e)})

cmd, a = sys.argv[1], sys.argv[2:]
if cmd == "hello":
    cmd_hello(*a)
elif cmd == "send":
    cmd_send(*a)
elif cmd == "get":
    cmd_get(*a)
else:
    raise SystemExit("unknown command " + cmd)
