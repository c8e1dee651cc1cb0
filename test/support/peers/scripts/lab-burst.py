import collections, errno, json, socket, sys, threading
dst, port, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
results = collections.Counter()
start = threading.Barrier(count)
def attempt():
    s = socket.socket(socket.AF_INET6 if ":" in dst else socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(0.8)
    start.wait()
    try:
        s.connect((dst, port)); results["open"] += 1
    except socket.timeout:
        results["timeout"] += 1
    except ConnectionRefusedError:
        results["reset"] += 1
    except OSError as e:
        results[errno.errorcode.get(e.errno, str(e))] += 1
threads = [threading.Thread(target=attempt) for _ in range(count)]
for t in threads: t.start()
for t in threads: t.join()
print(json.dumps(dict(results)))
