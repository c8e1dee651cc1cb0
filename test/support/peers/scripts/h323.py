# an H.323 caller and callee (Q.931 SETUP/CONNECT over TCP 1720 with an H.245 address, then RTP), run by ../h323.ts
import json, os, socket, struct, sys, time

def out(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()

def fam(addr):
    return socket.AF_INET6 if ":" in addr else socket.AF_INET

class Bits:
    """ASN.1 aligned PER, as far as the minimal messages need it."""
    def __init__(self):
        self.b = []
    def bit(self, v):
        self.b.append(1 if v else 0)
    def bits(self, v, n):
        for i in range(n - 1, -1, -1):
            self.bit((v >> i) & 1)
    def align(self):
        while len(self.b) % 8:
            self.b.append(0)
    def octets(self, data):
        self.align()
        for c in data:
            self.bits(c, 8)
    def length(self, n):
        assert n < 128
        self.octets(bytes([n]))
    def open_type(self, data):
        self.length(len(data))
        self.octets(data)
    def data(self):
        self.align()
        return bytes(int("".join(str(x) for x in self.b[i:i + 8]), 2) for i in range(0, len(self.b), 8))

# H.225.0 protocolIdentifier 0.0.8.2250.0.4 (BER contents octets, PER length prefix)
OID = bytes([0x00, 0x08, 0x91, 0x4A, 0x00, 0x04])
CONF_ID = bytes(range(16))

def endpoint_type(w):
    w.bit(0)          # extension bit
    w.bits(0, 6)      # nonStandardData vendor gatekeeper gateway mcu terminal: absent
    w.bit(0)          # mc
    w.bit(0)          # undefinedNode

def olc(addr, port):
    """OpenLogicalChannel: channel 1, nullData, H.225.0 parameters with mediaChannel addr:port."""
    w = Bits()
    w.bit(0)                          # extension bit
    w.bit(0)                          # reverseLogicalChannelParameters absent
    w.octets(struct.pack("!H", 0))    # forwardLogicalChannelNumber 1 (1..65535)
    w.bit(0)                          # forwardLogicalChannelParameters: extension bit
    w.bit(0)                          #   portNumber absent
    w.bit(0); w.bits(1, 3)            #   dataType: nullData
    w.bit(1); w.bits(0, 7)            #   multiplexParameters: extension alternative 0 = h2250LogicalChannelParameters
    h = Bits()
    h.bit(0)                          # extension bit
    h.bits(0b0010000000, 10)          # optional fields: mediaChannel only
    h.octets(bytes([1]))              # sessionID 1 (audio)
    h.bit(0); h.bit(0)                # TransportAddress: unicastAddress
    v6 = ":" in addr
    h.bit(0); h.bits(2 if v6 else 0, 3)   # UnicastAddress: iP6Address / iPAddress
    h.bit(0)                          # extension bit
    h.octets(socket.inet_pton(fam(addr), addr))
    h.octets(struct.pack("!H", port))
    w.open_type(h.data())
    return w.data()

def uuie(body_index, body):
    w = Bits()
    w.bit(0); w.bit(0)                # H323-UserInformation: extension bit, user-data absent
    w.bit(0); w.bit(0)                # H323-UU-PDU: extension bit, nonStandardData absent
    w.bit(0); w.bits(body_index, 3)   # h323-message-body
    body(w)
    return w.data()

def setup_body(w):
    w.bit(0)                          # extension bit
    w.bits(0, 7)                      # h245Address sourceAddress destinationAddress destCallSignalAddress destExtraCallInfo destExtraCRV callServices: absent
    w.length(len(OID)); w.octets(OID)
    endpoint_type(w)                  # sourceInfo
    w.bit(0)                          # activeMC
    w.octets(CONF_ID)
    w.bit(0); w.bits(0, 2)            # conferenceGoal: create
    w.bit(0); w.bits(0, 2)            # callType: pointToPoint

def connect_body(addr, port):
    def body(w):
        w.bit(1)                      # extension bit: fastStart follows
        w.bit(0)                      # h245Address absent
        w.length(len(OID)); w.octets(OID)
        endpoint_type(w)              # destinationInfo
        w.octets(CONF_ID)
        w.bits(5 - 1, 7)              # 5 extension additions known to the sender ...
        w.bits(0b00001, 5)            # ... callIdentifier h245SecurityMode tokens cryptoTokens fastStart: only fastStart
        fs = Bits()
        o = olc(addr, port)
        fs.length(1); fs.length(len(o)); fs.octets(o)
        w.open_type(fs.data())
    return body

def q931(msg_type, callref, per):
    uu = bytes([0x05]) + per          # protocol discriminator: X.208/X.209 coded user information
    body = bytes([0x08, 0x02]) + struct.pack("!H", callref) + bytes([msg_type])
    body += bytes([0x7E]) + struct.pack("!H", len(uu)) + uu
    return bytes([0x03, 0x00]) + struct.pack("!H", len(body) + 4) + body

def read_tpkt(s):
    head = b""
    while len(head) < 4:
        d = s.recv(4 - len(head))
        if not d:
            return None
        head += d
    n = struct.unpack("!H", head[2:4])[0] - 4
    data = b""
    while len(data) < n:
        d = s.recv(n - len(data))
        if not d:
            return None
        data += d
    return data

def cmd_callee(addr, media_port):
    media_port = int(media_port)
    m = socket.socket(fam(addr), socket.SOCK_DGRAM)
    m.bind((addr, media_port))
    ls = socket.socket(fam(addr), socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind((addr, 1720))
    ls.listen(8)
    import threading
    def echo():
        while True:
            data, peer = m.recvfrom(2048)
            print("MEDIA", peer[0], peer[1], len(data), flush=True)
            m.sendto(data, peer)
    threading.Thread(target=echo, daemon=True).start()
    print("READY", flush=True)
    while True:
        c, peer = ls.accept()
        c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        msg = read_tpkt(c)
        if msg is None or len(msg) < 5 or msg[0] != 0x08:
            c.close()
            continue
        callref = struct.unpack("!H", msg[2:4])[0]
        print("SETUP", peer[0], flush=True)
        c.sendall(q931(0x07, callref | 0x8000, uuie(2, connect_body(addr, media_port))))
        print("CONNECT", addr, media_port, flush=True)
        while c.recv(4096):
            pass
        c.close()

def cmd_caller(server, go_file, count, timeout_ms):
    res = {"connected": False, "announced": None, "sent": 0, "received": 0, "error": None}
    try:
        s = socket.create_connection((server, 1720), timeout=int(timeout_ms) / 1000.0)
    except OSError as e:
        res["error"] = "Q.931 connect to %s port 1720: %s" % (server, "timed out" if isinstance(e, socket.timeout) else e)
        out(res)
        return
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    s.sendall(q931(0x05, 0x1234, uuie(0, setup_body)))
    try:
        msg = read_tpkt(s)
    except socket.timeout:
        msg = None
    if not msg or msg[4] != 0x07:
        res["error"] = "no CONNECT"
        out(res)
        return
    res["connected"] = True
    raw = socket.inet_pton(fam(server), server)
    i = msg.find(raw)
    port = struct.unpack("!H", msg[i + len(raw):i + len(raw) + 2])[0] if i >= 0 else None
    res["announced"] = {"address": server if i >= 0 else None, "port": port}
    print("CONNECTED", port, flush=True)
    # the test looks at the expectation table before any media flows
    deadline = time.time() + 20
    while go_file != "-" and not os.path.exists(go_file) and time.time() < deadline:
        time.sleep(0.02)
    if port is not None:
        m = socket.socket(fam(server), socket.SOCK_DGRAM)
        m.connect((server, port))
        m.settimeout(int(timeout_ms) / 1000.0)
        for n in range(int(count)):
            rtp = struct.pack("!BBHII", 0x80, 8, n, n * 160, 0x484E4654) + bytes(160)
            m.send(rtp)
            res["sent"] += 1
            try:
                if m.recv(2048) == rtp:
                    res["received"] += 1
            except (socket.timeout, ConnectionRefusedError):
                pass
    s.close()
    out(res)

cmd, a = sys.argv[1], sys.argv[2:]
if cmd == "callee":
    cmd_callee(*a)
elif cmd == "caller":
    cmd_caller(*a)
else:
    raise SystemExit("unknown command " + cmd)
