/*
 * connload: the packet-path benchmark's client. Keeps CONCURRENCY non-blocking connect()s to
 * DST:PORT in flight; each one that completes the handshake is counted and closed with an RST
 * (SO_LINGER 0: no TIME_WAIT, so ephemeral ports never run out), and a new one replaces it.
 * Counts completions between WARMUP and WARMUP+DURATION seconds, then stops by itself; it also
 * stops after MAX_CONNECTIONS attempts. Prints one JSON line.
 *
 * usage: connload DST PORT CONCURRENCY WARMUP_S DURATION_S MAX_CONNECTIONS [BIND_ADDR]
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static struct sockaddr_in dst, src;
static int bind_src;
static unsigned long long attempts, max_attempts, open_errors;

/* Starts one connect; returns 1 if it is in flight (registered with epoll). */
static int start_one(int ep) {
  if (attempts >= max_attempts) return 0;
  attempts++;
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    open_errors++;
    return 0;
  }
  if (bind_src && bind(fd, (struct sockaddr *)&src, sizeof src) != 0) {
    open_errors++;
    close(fd);
    return 0;
  }
  int r = connect(fd, (struct sockaddr *)&dst, sizeof dst);
  if (r != 0 && errno != EINPROGRESS) {
    open_errors++;
    close(fd);
    return 0;
  }
  struct epoll_event ev = {.events = EPOLLOUT, .data.fd = fd};
  if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) != 0) {
    open_errors++;
    close(fd);
    return 0;
  }
  return 1;
}

int main(int argc, char **argv) {
  if (argc != 7 && argc != 8) {
    fprintf(stderr, "usage: connload DST PORT CONCURRENCY WARMUP_S DURATION_S MAX_CONNECTIONS [BIND_ADDR]\n");
    return 2;
  }
  memset(&dst, 0, sizeof dst);
  dst.sin_family = AF_INET;
  dst.sin_port = htons((unsigned short)atoi(argv[2]));
  if (inet_pton(AF_INET, argv[1], &dst.sin_addr) != 1) return 2;
  int concurrency = atoi(argv[3]);
  double warmup = atof(argv[4]), duration = atof(argv[5]);
  max_attempts = strtoull(argv[6], NULL, 10);
  if (concurrency < 1 || concurrency > 4096 || warmup < 0 || warmup > 60 || duration <= 0 || duration > 300) return 2;
  if (argc == 8) {
    memset(&src, 0, sizeof src);
    src.sin_family = AF_INET;
    if (inet_pton(AF_INET, argv[7], &src.sin_addr) != 1) return 2;
    bind_src = 1;
  }

  int ep = epoll_create1(EPOLL_CLOEXEC);
  struct epoll_event events[256];
  int in_flight = 0;
  unsigned long long done_total = 0, done_window = 0, failed = 0;
  double t0 = now(), t_start = t0 + warmup, t_end = t_start + duration;
  const struct linger rst = {.l_onoff = 1, .l_linger = 0};

  for (int i = 0; i < concurrency; i++) in_flight += start_one(ep);
  double t = t0;
  while ((t = now()) < t_end) {
    if (in_flight < concurrency && attempts < max_attempts) {
      in_flight += start_one(ep);
      continue;
    }
    if (in_flight == 0) break; /* MAX_CONNECTIONS reached */
    int n = epoll_wait(ep, events, 256, 10);
    t = now();
    for (int i = 0; i < n; i++) {
      int fd = events[i].data.fd, soerr = 0;
      socklen_t len = sizeof soerr;
      getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len);
      if (soerr == 0) {
        done_total++;
        if (t >= t_start && t < t_end) done_window++;
        setsockopt(fd, SOL_SOCKET, SO_LINGER, &rst, sizeof rst);
      } else {
        failed++;
      }
      close(fd); /* also removes it from the epoll set */
      in_flight--;
      if (t < t_end) in_flight += start_one(ep);
    }
  }
  double window = (t < t_end ? t : t_end) - t_start;
  if (window < 0) window = 0;
  printf("{\"connections\":%llu,\"seconds\":%.3f,\"rate\":%.1f,\"total\":%llu,\"failed\":%llu,\"openErrors\":%llu,\"attempts\":%llu}\n",
         done_window, window, window > 0 ? (double)done_window / window : 0.0, done_total, failed, open_errors, attempts);
  return 0;
}
