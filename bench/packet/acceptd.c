/*
 * acceptd: the packet-path benchmark's server. Accepts TCP connections on ADDR:PORT and closes
 * each at once, until SIGTERM/SIGINT or MAX_SECONDS (it always stops by itself). Prints
 * {"accepted":N} on exit. One blocking accept loop: accept+close costs a few microseconds,
 * far less than the kernel's handshake work, so the server is not what limits the rate.
 *
 * usage: acceptd ADDR PORT MAX_SECONDS
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static volatile sig_atomic_t stop_now;
static void on_signal(int sig) { (void)sig; stop_now = 1; }

int main(int argc, char **argv) {
  if (argc != 4) {
    fprintf(stderr, "usage: acceptd ADDR PORT MAX_SECONDS\n");
    return 2;
  }
  struct sockaddr_in sa;
  memset(&sa, 0, sizeof sa);
  sa.sin_family = AF_INET;
  sa.sin_port = htons((unsigned short)atoi(argv[2]));
  if (inet_pton(AF_INET, argv[1], &sa.sin_addr) != 1) {
    fprintf(stderr, "acceptd: bad address %s\n", argv[1]);
    return 2;
  }
  unsigned max_seconds = (unsigned)atoi(argv[3]);
  if (max_seconds == 0 || max_seconds > 3600) max_seconds = 3600;

  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0 || listen(fd, 65535) != 0) {
    perror("acceptd");
    return 1;
  }
  struct sigaction act;
  memset(&act, 0, sizeof act);
  act.sa_handler = on_signal; /* no SA_RESTART: accept() returns EINTR */
  sigaction(SIGTERM, &act, NULL);
  sigaction(SIGINT, &act, NULL);
  sigaction(SIGALRM, &act, NULL);
  alarm(max_seconds);
  printf("listening\n");
  fflush(stdout);

  unsigned long long accepted = 0;
  while (!stop_now) {
    int c = accept4(fd, NULL, NULL, SOCK_CLOEXEC);
    if (c >= 0) {
      accepted++;
      close(c);
    } else if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
      usleep(1000);
    }
  }
  printf("{\"accepted\":%llu}\n", accepted);
  return 0;
}
