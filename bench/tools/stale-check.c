/* What the stale check of an idle pooled upstream connection costs per call, by system call
 * (README "Benchmarks", per-change table): a connected loopback TCP pair with nothing to read,
 * and ROUNDS x CALLS of each candidate in turn, pinned to one CPU by the caller:
 *   taskset -c 0 bench/.bin/stale-check [CALLS] [ROUNDS]      (200000, 7)
 * Prints ns per call for recv(MSG_PEEK|MSG_DONTWAIT), poll(POLLIN|POLLRDHUP, 0),
 * ioctl(FIONREAD), getsockopt(SO_ERROR) and getppid() (the bare cost of entering the kernel),
 * then what recv(MSG_PEEK) and poll() say once the peer has closed (both must see it). */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static double now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec * 1e9 + (double)t.tv_nsec;
}

static void die(const char *m) { perror(m); exit(2); }

int main(int argc, char **argv) {
  const int calls = argc > 1 ? atoi(argv[1]) : 200000, rounds = argc > 2 ? atoi(argv[2]) : 7;
  if (calls < 1 || rounds < 1) { fprintf(stderr, "usage: stale-check [CALLS] [ROUNDS]\n"); return 2; }
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t len = sizeof a;
  int l = socket(AF_INET, SOCK_STREAM, 0);
  if (l < 0 || bind(l, (struct sockaddr *)&a, sizeof a) || listen(l, 1) ||
      getsockname(l, (struct sockaddr *)&a, &len))
    die("listen");
  int c = socket(AF_INET, SOCK_STREAM, 0);
  if (c < 0 || connect(c, (struct sockaddr *)&a, sizeof a)) die("connect");
  int s = accept(l, NULL, NULL);
  if (s < 0) die("accept");
  printf("ns per call: recv_peek poll fionread so_error getppid\n");
  for (int r = 0; r < rounds; r++) {
    char ch;
    int v;
    socklen_t vl;
    double t0 = now_ns();
    for (int i = 0; i < calls; i++) (void)recv(c, &ch, 1, MSG_PEEK | MSG_DONTWAIT);
    double t1 = now_ns();
    for (int i = 0; i < calls; i++) {
      struct pollfd p = {c, POLLIN | POLLRDHUP, 0};
      (void)poll(&p, 1, 0);
    }
    double t2 = now_ns();
    for (int i = 0; i < calls; i++) (void)ioctl(c, FIONREAD, &v);
    double t3 = now_ns();
    for (int i = 0; i < calls; i++) vl = sizeof v, (void)getsockopt(c, SOL_SOCKET, SO_ERROR, &v, &vl);
    double t4 = now_ns();
    for (int i = 0; i < calls; i++) (void)getppid();
    double t5 = now_ns();
    printf("%.0f %.0f %.0f %.0f %.0f\n", (t1 - t0) / calls, (t2 - t1) / calls, (t3 - t2) / calls,
           (t4 - t3) / calls, (t5 - t4) / calls);
  }
  close(s);
  usleep(10000);
  char ch;
  struct pollfd p = {c, POLLIN | POLLRDHUP, 0};
  ssize_t n = recv(c, &ch, 1, MSG_PEEK | MSG_DONTWAIT);
  int pr = poll(&p, 1, 0);
  printf("after the peer's close: recv_peek returns %zd, poll returns %d (revents 0x%x)\n", n, pr,
         (unsigned)p.revents);
  return n == 0 && pr == 1 ? 0 : 1;
}
