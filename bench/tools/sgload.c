/* sgload: the load generator of scoregate's bench/ (OpenSSL + epoll, one thread, loopback only).
 *
 *   sgload handshake -c CONNS -d SECONDS [common]   full TLS handshake per connection
 *   sgload rate -r RPS -c CONNS -d SECONDS [common] open-loop fixed-rate keep-alive requests
 *   sgload idle -c CONNS -d SECONDS [common]        hold CONNS established, idle TLS connections
 *   sgload storm -n TOTAL -c INFLIGHT -d SECONDS [--hold-ms N] [common]   TOTAL new connections,
 *     INFLIGHT in progress at most; each does one keep-alive request and is held open until all
 *     are served or failed, then N ms more
 *
 * wrk and h2load resume TLS sessions when they reconnect, and both are closed-loop; this tool
 * never resumes (fresh SSL, client cache off, no SSL_set_session) and, in `rate`, measures each
 * latency from the time the request was *scheduled* to leave, so a stalled server shows up as
 * latency instead of as a lower send rate (coordinated omission).
 * The last line of output is `RESULT {json}` for scripts. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

enum mode { M_HANDSHAKE, M_RATE, M_IDLE, M_STORM };
enum state { S_FREE, S_CONNECT, S_HANDSHAKE, S_WRITE, S_READ, S_IDLE, S_CLOSEWAIT };
enum err { E_CONNECT, E_TLS, E_IO, E_TIMEOUT, E_PARSE, E_OVERFLOW, E_NCOUNT };
static const char *err_names[E_NCOUNT] = {"connect", "tls", "io", "timeout", "parse", "backlog"};

typedef struct {
  int fd, state;
  SSL *ssl;
  size_t woff;                 /* request bytes already written */
  char head[8192];             /* response head being accumulated */
  size_t hlen;
  int status, chunked, in_body, server_closes;   /* server_closes: answered Connection: close */
  long long left;              /* body bytes left (-1: until close; chunked: in this chunk) */
  int chunk_phase;             /* chunked: 0 size line, 1 data, 2 CRLF after data, 3 trailer */
  char line[64];
  size_t llen;
  uint64_t t_sched, deadline;  /* when the request was due; when to give up */
} conn;

static struct {
  int mode, plain, tls, conns, port, total, inflight;   /* storm: conns = total slots */
  double rate, dur;
  long hold_ms;
  const char *host, *path, *body_file, *cafile, *sni, *suites;
  char hdrs[4096];
  long timeout_ms;
} o = {.host = "127.0.0.1", .port = 8443, .path = "/api/v1/service/demo/score", .sni = "localhost",
       .timeout_ms = 10000, .hold_ms = 1000};

static SSL_CTX *ctx;
static struct sockaddr_in addr;
static int ep;
static conn *cs;
static char *req;              /* the request, sent as is on every exchange */
static size_t req_len;
static long long errs[E_NCOUNT], done_ok, non2xx, reused, hs_done, closed_by_peer;
static uint32_t *lat;          /* completed latencies, µs */
static size_t nlat, caplat;
static char proto[32] = "-", cipher[64] = "-", group[32] = "-";
static uint64_t t_end;
static int stopping, running;
static volatile sig_atomic_t got_signal;

static uint64_t now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}

static void die(const char *m) { fprintf(stderr, "sgload: %s\n", m); exit(2); }

static void usage(void) {
  fprintf(stderr,
          "usage: sgload handshake|rate|idle -c CONNS -d SECONDS [-r REQS_PER_SEC] [options]\n"
          "       sgload storm -n TOTAL -c INFLIGHT -d SECONDS [--hold-ms N] [options]\n"
          "  --host 127.0.0.1 --port N --path P --body-file F --header 'K: V' (repeatable)\n"
          "  --cafile F (verify chain + name) --sni NAME --tls 1.2|1.3 --plain --timeout-ms N\n"
          "  --ciphersuites TLS_AES_128_GCM_SHA256:... (TLS 1.3 suites offered, in this order)\n"
          "  targets must be loopback (127.0.0.0/8)\n");
  exit(2);
}

static void add_lat(uint64_t ns) {
  if (nlat == caplat) {
    caplat = caplat ? caplat * 2 : 65536;
    lat = realloc(lat, caplat * sizeof *lat);
    if (!lat) die("out of memory");
  }
  uint64_t us = ns / 1000;
  lat[nlat++] = us > UINT32_MAX ? UINT32_MAX : (uint32_t)us;
}

static void build_request(const char *body, size_t blen) {
  char head[8192];
  int n = snprintf(head, sizeof head,
                   "POST %s HTTP/1.1\r\nHost: %s:%d\r\nContent-Type: application/json\r\n"
                   "Content-Length: %zu\r\n%s%s\r\n", o.path, o.sni, o.port, blen, o.hdrs,
                   o.mode == M_HANDSHAKE ? "Connection: close\r\n" : "");
  if (n < 0 || (size_t)n >= sizeof head || !(req = malloc((size_t)n + blen))) die("request too long");
  memcpy(req, head, (size_t)n);
  memcpy(req + n, body, blen);
  req_len = (size_t)n + blen;
}

static void close_conn(conn *c) {
  if (c->ssl) SSL_free(c->ssl);
  if (c->fd >= 0) close(c->fd);
  c->ssl = NULL, c->fd = -1, c->state = S_FREE;
}

/* Failed slots are reopened by check_deadlines() after a pause, not here (no retry storms). */
static void fail(conn *c, int e) {
  errs[e]++;
  close_conn(c);
  c->deadline = now_ns() + 20000000ull;
}

static void open_conn(conn *c) {
  memset(c, 0, sizeof *c);
  c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (c->fd < 0) { c->state = S_FREE; errs[E_CONNECT]++; return; }
  int one = 1;
  setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  c->state = S_CONNECT, c->t_sched = now_ns();
  c->deadline = c->t_sched + (uint64_t)o.timeout_ms * 1000000ull;
  if (connect(c->fd, (struct sockaddr *)&addr, sizeof addr) < 0 && errno != EINPROGRESS) {
    fail(c, E_CONNECT);
    return;
  }
  struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLET | EPOLLRDHUP, .data.ptr = c};
  if (epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev) < 0) fail(c, E_CONNECT);
}

static void note_session(SSL *s) {
  if (SSL_session_reused(s)) reused++;
  if (proto[0] != '-') return;
  snprintf(proto, sizeof proto, "%s", SSL_get_version(s));
  snprintf(cipher, sizeof cipher, "%s", SSL_get_cipher_name(s));
  int nid = SSL_get_negotiated_group(s);
  const char *g = nid > 0 ? OBJ_nid2sn(nid) : NULL;
  if (g) snprintf(group, sizeof group, "%s", g);
}

/* One read or write: >0 bytes, 0 would block, -1 peer closed, -2 error. */
static int xio(conn *c, char *b, size_t n, int writing) {
  if (n > (1u << 30)) n = 1u << 30;
  if (!c->ssl) {
    ssize_t r = writing ? write(c->fd, b, n) : read(c->fd, b, n);
    return r > 0 ? (int)r : r == 0 ? (writing ? 0 : -1) : errno == EAGAIN ? 0 : -2;
  }
  int r = writing ? SSL_write(c->ssl, b, (int)n) : SSL_read(c->ssl, b, (int)n);
  if (r > 0) return r;
  int e = SSL_get_error(c->ssl, r);
  ERR_clear_error();
  if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) return 0;
  return e == SSL_ERROR_ZERO_RETURN ? -1 : -2;
}

static void start_request(conn *c, uint64_t t_sched) {
  c->state = S_WRITE, c->t_sched = t_sched, c->deadline = now_ns() + (uint64_t)o.timeout_ms * 1000000ull;
  c->woff = c->hlen = c->llen = 0;
  c->status = c->chunked = c->in_body = c->chunk_phase = c->server_closes = 0;
}

/* Parses the response head in c->head; returns 1 when complete, 0 need more, -1 malformed. */
static int parse_head(conn *c) {
  char *end = memmem(c->head, c->hlen, "\r\n\r\n", 4);
  if (!end) return c->hlen == sizeof c->head ? -1 : 0;
  *end = 0;
  if (sscanf(c->head, "HTTP/1.%*d %d", &c->status) != 1) return -1;
  c->left = -1;
  for (char *l = strstr(c->head, "\r\n"); l; l = strstr(l + 2, "\r\n")) {
    if (!strncasecmp(l + 2, "content-length:", 15)) c->left = atoll(l + 17);
    if (!strncasecmp(l + 2, "transfer-encoding:", 18) && strcasestr(l + 20, "chunked")) c->chunked = 1;
    if (!strncasecmp(l + 2, "connection:", 11) && strcasestr(l + 13, "close")) c->server_closes = 1;
  }
  if (c->status == 204 || c->status == 304 || (c->status >= 100 && c->status < 200)) c->left = 0;
  size_t rest = c->hlen - (size_t)(end + 4 - c->head);   /* body bytes that came with the head */
  memmove(c->head, end + 4, rest);
  c->hlen = rest, c->in_body = 1;
  if (c->chunked) c->left = 0;
  return 1;
}

/* Consumes body bytes; returns 1 when the message is complete, 0 need more, -1 malformed. */
static int eat_body(conn *c, const char *b, size_t n) {
  if (!c->chunked) {
    if (c->left < 0) return 0;                 /* delimited by close */
    c->left -= (long long)n;
    return c->left <= 0;
  }
  for (size_t i = 0; i < n; i++) {
    if (c->chunk_phase == 1) {
      size_t take = (size_t)c->left < n - i ? (size_t)c->left : n - i;
      c->left -= (long long)take, i += take - 1;
      if (!c->left) c->chunk_phase = 2, c->llen = 0;
      continue;
    }
    if (c->llen + 1 >= sizeof c->line) return -1;
    c->line[c->llen++] = b[i];
    if (c->llen < 2 || c->line[c->llen - 2] != '\r' || b[i] != '\n') continue;
    c->line[c->llen - 2] = 0;
    if (c->chunk_phase == 0) {
      c->left = strtoll(c->line, NULL, 16);
      c->chunk_phase = c->left ? 1 : 3;
    } else if (c->chunk_phase == 2) {
      c->chunk_phase = 0;
    } else if (c->llen == 2) {
      return 1;                                 /* empty line ends the trailer */
    }
    c->llen = 0;
  }
  return 0;
}

static void response_done(conn *c, uint64_t now) {
  *(c->status >= 200 && c->status < 300 ? &done_ok : &non2xx) += 1;
  add_lat(now - c->t_sched);
}

static void next_request(conn *c);

/* Runs a connection's state machine until it would block. */
static void drive(conn *c) {
  char buf[65536];
  for (;;) {
    uint64_t now = now_ns();
    switch (c->state) {
    case S_CONNECT: {
      int e = 0;
      socklen_t l = sizeof e;
      getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &e, &l);
      if (e == EINPROGRESS || e == EALREADY) return;
      if (e) { fail(c, E_CONNECT); return; }
      struct sockaddr_in peer;
      socklen_t pl = sizeof peer;
      if (getpeername(c->fd, (struct sockaddr *)&peer, &pl) < 0) return; /* a stale event */
      if (o.plain) { c->state = S_IDLE; next_request(c); break; }
      c->ssl = SSL_new(ctx);
      SSL_set_fd(c->ssl, c->fd);
      SSL_set_tlsext_host_name(c->ssl, o.sni);
      if (o.cafile) SSL_set1_host(c->ssl, o.sni);
      SSL_set_connect_state(c->ssl);
      c->state = S_HANDSHAKE;
      break;
    }
    case S_HANDSHAKE: {
      int r = SSL_do_handshake(c->ssl);
      if (r == 1) {
        hs_done++;
        note_session(c->ssl);
        c->state = S_IDLE;
        next_request(c);
        break;
      }
      int e = SSL_get_error(c->ssl, r);
      if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) return;
      if (errs[E_TLS] == 0) ERR_print_errors_fp(stderr);
      ERR_clear_error();
      fail(c, E_TLS);
      return;
    }
    case S_WRITE: {
      int r = xio(c, req + c->woff, req_len - c->woff, 1);
      if (r == 0) return;
      if (r < 0) { fail(c, E_IO); return; }
      c->woff += (size_t)r;
      if (c->woff == req_len) c->state = S_READ;
      break;
    }
    case S_READ: case S_IDLE: case S_CLOSEWAIT: {
      int r = xio(c, buf, sizeof buf, 0);
      if (r == 0) return;
      if (c->state != S_READ) {               /* nothing expected: the server closed or erred */
        if (c->state == S_IDLE && r > 0) { fail(c, E_PARSE); return; }
        closed_by_peer += c->state == S_IDLE;
        close_conn(c);
        if (!stopping) next_request(c);
        return;
      }
      if (r < 0) {
        if (r == -1 && c->in_body && !c->chunked && c->left < 0) { /* close-delimited body */
          response_done(c, now);
          close_conn(c);
          if (!stopping) next_request(c);
        } else {
          fail(c, E_IO);
        }
        return;
      }
      size_t off = 0, n = (size_t)r;
      if (!c->in_body) {
        size_t take = n < sizeof c->head - c->hlen ? n : sizeof c->head - c->hlen;
        memcpy(c->head + c->hlen, buf, take);
        c->hlen += take, off = take;
        int h = parse_head(c);
        if (h < 0) { fail(c, E_PARSE); return; }
        if (h == 0) break;
        int d = c->left == 0 && !c->chunked ? 1 : eat_body(c, c->head, c->hlen);
        if (d == 0 && off < n) d = eat_body(c, buf + off, n - off);
        if (d < 0) { fail(c, E_PARSE); return; }
        if (d == 0) break;
      } else {
        int d = eat_body(c, buf, n);
        if (d < 0) { fail(c, E_PARSE); return; }
        if (d == 0) break;
      }
      response_done(c, now);
      if (o.mode == M_STORM && c->server_closes) { /* served, but not held: the server closes */
        closed_by_peer++;
        close_conn(c);
        return;
      }
      if (o.mode == M_RATE && c->server_closes) {   /* never send on a connection being closed */
        closed_by_peer++;
        close_conn(c);
        if (!stopping) next_request(c);
        return;
      }
      c->state = o.mode == M_HANDSHAKE ? S_CLOSEWAIT : S_IDLE;
      c->deadline = o.mode == M_STORM ? UINT64_MAX : now + 2000000000ull; /* close within 2 s */
      if (o.mode == M_RATE) next_request(c);
      break;
    }
    default:
      return;
    }
  }
}

/* Rate mode: FIFO of scheduled send times waiting for a free connection. */
#define QCAP (1u << 20)
static uint64_t *q;
static size_t qh, qt;

static void next_request(conn *c) {
  if (o.mode == M_IDLE) return;
  if (o.mode == M_STORM) {                    /* one request per connection, never reopened */
    if (c->state == S_IDLE && !c->status) start_request(c, c->t_sched);
    return;
  }
  if (o.mode == M_HANDSHAKE) {                /* one request per connection */
    if (c->state == S_FREE) { if (now_ns() < t_end) open_conn(c); return; }
    start_request(c, c->t_sched);
    return;
  }
  if (c->state == S_FREE) { if (!stopping) open_conn(c); return; }
  if (c->state == S_IDLE && qh != qt) start_request(c, q[qh++ % QCAP]);
}

/* Times out stuck connections and, while running, reopens slots freed by errors. */
static void check_deadlines(uint64_t now) {
  for (int i = 0; i < o.conns; i++) {
    conn *c = &cs[i];
    if (c->state == S_IDLE || now < c->deadline) continue;
    if (c->state == S_FREE) {
      if (running && !stopping && o.mode != M_IDLE && o.mode != M_STORM) open_conn(c);
      continue;
    }
    if (c->state == S_CLOSEWAIT) {
      close_conn(c);
      if (!stopping) next_request(c);
    } else {
      fail(c, E_TIMEOUT);
    }
  }
}

static void on_signal(int sig) { (void)sig; got_signal = 1; }

static void parse_args(int argc, char **argv) {
  if (argc < 2) usage();
  if (!strcmp(argv[1], "handshake")) o.mode = M_HANDSHAKE;
  else if (!strcmp(argv[1], "rate")) o.mode = M_RATE;
  else if (!strcmp(argv[1], "idle")) o.mode = M_IDLE;
  else if (!strcmp(argv[1], "storm")) o.mode = M_STORM;
  else usage();
  for (int i = 2; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!strcmp(a, "--plain")) { o.plain = 1; continue; }
    if (!v) usage();
    i++;
    const char **str = !strcmp(a, "--host") ? &o.host : !strcmp(a, "--path") ? &o.path
                     : !strcmp(a, "--body-file") ? &o.body_file : !strcmp(a, "--cafile") ? &o.cafile
                     : !strcmp(a, "--sni") ? &o.sni : !strcmp(a, "--ciphersuites") ? &o.suites : NULL;
    if (str) *str = v;
    else if (!strcmp(a, "-c")) o.conns = atoi(v);
    else if (!strcmp(a, "-d")) o.dur = atof(v);
    else if (!strcmp(a, "-r")) o.rate = atof(v);
    else if (!strcmp(a, "-n")) o.total = atoi(v);
    else if (!strcmp(a, "--hold-ms")) o.hold_ms = atol(v);
    else if (!strcmp(a, "--port")) o.port = atoi(v);
    else if (!strcmp(a, "--timeout-ms")) o.timeout_ms = atol(v);
    else if (!strcmp(a, "--tls")) o.tls = !strcmp(v, "1.2") ? TLS1_2_VERSION : !strcmp(v, "1.3") ? TLS1_3_VERSION : -1;
    else if (!strcmp(a, "--header")) {
      size_t l = strlen(o.hdrs);
      if (!strchr(v, ':') || strpbrk(v, "\r\n") || l + strlen(v) + 3 > sizeof o.hdrs) die("bad --header");
      snprintf(o.hdrs + l, sizeof o.hdrs - l, "%s\r\n", v);
    } else usage();
  }
  if (o.conns < 1 || o.conns > 60000 || o.dur <= 0 || o.port < 1 || o.port > 65535 || o.tls < 0 ||
      o.timeout_ms < 1 || (o.mode == M_RATE && o.rate <= 0) || o.hold_ms < 0 ||
      (o.mode == M_STORM && (o.total < 1 || o.total > 60000)))
    usage();
  if (o.mode == M_STORM) o.inflight = o.conns, o.conns = o.total;
  if (!strcmp(o.host, "localhost")) o.host = "127.0.0.1";
  addr.sin_family = AF_INET;
  addr.sin_port = htons((uint16_t)o.port);
  if (inet_pton(AF_INET, o.host, &addr.sin_addr) != 1) die("--host must be an IPv4 address");
  if ((ntohl(addr.sin_addr.s_addr) >> 24) != 127) die("refusing a non-loopback target (127.0.0.0/8 only)");
}

static char *read_file(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f) die("cannot open --body-file");
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *b = malloc(n > 0 ? (size_t)n : 1);
  if (!b || n < 0 || fread(b, 1, (size_t)n, f) != (size_t)n) die("cannot read --body-file");
  fclose(f);
  *len = (size_t)n;
  return b;
}

static void setup_tls(void) {
  ctx = SSL_CTX_new(TLS_client_method());
  if (!ctx) die("SSL_CTX_new failed");
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);   /* never resume */
  SSL_CTX_set_min_proto_version(ctx, o.tls ? o.tls : TLS1_2_VERSION);
  if (o.tls) SSL_CTX_set_max_proto_version(ctx, o.tls);
  SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  /* a storm holds tens of thousands of client SSL objects: keep the load side's memory small */
  if (o.mode == M_STORM) SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
  SSL_CTX_set_options(ctx, SSL_OP_IGNORE_UNEXPECTED_EOF);
  if (o.suites && SSL_CTX_set_ciphersuites(ctx, o.suites) != 1) die("bad --ciphersuites");
  static const unsigned char alpn[] = {8, 'h', 't', 't', 'p', '/', '1', '.', '1'};
  SSL_CTX_set_alpn_protos(ctx, alpn, sizeof alpn);
  if (o.cafile) {
    if (SSL_CTX_load_verify_locations(ctx, o.cafile, NULL) != 1) die("cannot load --cafile");
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
  }
}

static int cmp_u32(const void *a, const void *b) {
  uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
  return x < y ? -1 : x > y;
}

static uint32_t pct(double p) {   /* on the sorted array; 0 when empty */
  size_t i = (size_t)(p / 100.0 * (double)nlat);
  return nlat ? lat[i >= nlat ? nlat - 1 : i] : 0;
}

static void report(double elapsed, long long scheduled) {
  static const char *modes[] = {"handshake", "rate", "idle", "storm"};
  long long nerr = 0, open_now = 0;
  for (int e = 0; e < E_NCOUNT; e++) nerr += errs[e];
  for (int i = 0; i < o.conns; i++) open_now += cs[i].state == S_IDLE;
  qsort(lat, nlat, sizeof *lat, cmp_u32);
  double per_sec = (double)(o.mode == M_HANDSHAKE || o.mode == M_STORM ? done_ok : done_ok + non2xx) / elapsed;
  if (o.plain) snprintf(proto, sizeof proto, "plain");
  printf("sgload %s 127.0.0.1:%d: %s %s %s, %.2f s, handshakes %lld (resumed %lld), %s %.1f/s\n",
         modes[o.mode], o.port, proto, cipher, group, elapsed, hs_done, reused,
         o.mode == M_HANDSHAKE ? "full-handshake connections" : o.mode == M_STORM ? "connections served"
                                                                                 : "responses", per_sec);
  printf("  2xx %lld, non-2xx %lld, errors %lld (", done_ok, non2xx, nerr);
  for (int e = 0; e < E_NCOUNT; e++) printf("%s%s %lld", e ? ", " : "", err_names[e], errs[e]);
  printf(")\n");
  if (nlat)
    printf("  latency us (%s): p50 %u p90 %u p99 %u p99.9 %u max %u\n",
           o.mode == M_RATE ? "from the scheduled send" : "connect to response", pct(50), pct(90), pct(99),
           pct(99.9), lat[nlat - 1]);
  if (o.mode == M_STORM)
    printf("  storm: %d connections, at most %d in progress; held open at the end %lld, closed by the server %lld\n",
           o.total, o.inflight, open_now, closed_by_peer);
  printf("RESULT {\"mode\":\"%s\",\"seconds\":%.3f,\"conns\":%d,\"inflight\":%d,\"rate_target\":%.1f,\"scheduled\":%lld,"
         "\"ok\":%lld,\"non2xx\":%lld,\"errors\":%lld,\"handshakes\":%lld,\"session_reused\":%lld,"
         "\"per_sec\":%.2f,\"closed_by_peer\":%lld,\"open_at_end\":%lld,\"protocol\":\"%s\",\"cipher\":\"%s\","
         "\"group\":\"%s\",\"p50_us\":%u,\"p90_us\":%u,\"p99_us\":%u,\"p999_us\":%u,\"max_us\":%u",
         modes[o.mode], elapsed, o.conns, o.inflight, o.rate, scheduled, done_ok, non2xx, nerr, hs_done, reused, per_sec,
         closed_by_peer, open_now, proto, cipher, group, pct(50), pct(90), pct(99), pct(99.9),
         nlat ? lat[nlat - 1] : 0);
  for (int e = 0; e < E_NCOUNT; e++) printf(",\"err_%s\":%lld", err_names[e], errs[e]);
  printf("}\n");
}

int main(int argc, char **argv) {
  parse_args(argc, argv);
  signal(SIGPIPE, SIG_IGN);
  signal(SIGINT, on_signal);
  signal(SIGTERM, on_signal);
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0) rl.rlim_cur = rl.rlim_max, setrlimit(RLIMIT_NOFILE, &rl);
  if (!o.plain) setup_tls();
  static const char deflt[] = "{\"data\":[[1,2,3,4,5,6,7,8,9,10]]}";
  size_t blen = sizeof deflt - 1;
  char *body = o.body_file ? read_file(o.body_file, &blen) : (char *)deflt;
  build_request(body, blen);
  ep = epoll_create1(EPOLL_CLOEXEC);
  int tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
  struct epoll_event tev = {.events = EPOLLIN, .data.ptr = NULL};
  if (ep < 0 || tfd < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, tfd, &tev) < 0) die("epoll/timerfd setup failed");
  cs = calloc((size_t)o.conns, sizeof *cs);
  q = malloc(QCAP * sizeof *q);
  if (!cs || !q) die("out of memory");

  /* idle and rate connect first (not timed); handshake and storm modes open as they go */
  int timed = o.mode == M_HANDSHAKE || o.mode == M_STORM;
  int opening = o.mode == M_HANDSHAKE ? o.conns : o.mode == M_STORM ? (o.inflight < o.conns ? o.inflight : o.conns)
                                                : (o.conns < 64 ? o.conns : 64);
  int next_open = 0;
  uint64_t t0 = now_ns(), t_ready_limit = t0 + (uint64_t)o.timeout_ms * 1000000ull * 3, t_done = 0;
  t_end = timed ? t0 + (uint64_t)(o.dur * 1e9) : UINT64_MAX;
  for (int i = 0; i < o.conns; i++) cs[i].fd = -1, cs[i].deadline = UINT64_MAX;
  for (; next_open < opening; next_open++) open_conn(&cs[next_open]);
  struct epoll_event evs[256];
  while (!timed) {                             /* ramp up: at most 64 handshakes in flight */
    int ready = 0, busy = 0, dead = 0;
    for (int i = 0; i < next_open; i++) {
      ready += cs[i].state == S_IDLE, dead += cs[i].state == S_FREE;
      busy += cs[i].state == S_CONNECT || cs[i].state == S_HANDSHAKE;
    }
    for (; busy < 64 && next_open < o.conns; busy++) open_conn(&cs[next_open++]);
    if (ready + dead == o.conns) break;
    if (now_ns() > t_ready_limit || got_signal) { fprintf(stderr, "sgload: only %d of %d connections established\n", ready, o.conns); break; }
    int n = epoll_wait(ep, evs, 256, 100);
    for (int i = 0; i < n; i++) if (evs[i].data.ptr) drive(evs[i].data.ptr);
    check_deadlines(now_ns());
  }
  if (o.mode == M_IDLE) { printf("ESTABLISHED %lld\n", hs_done); fflush(stdout); }
  running = 1;

  uint64_t start = now_ns(), interval = o.mode == M_RATE ? (uint64_t)(1e9 / o.rate) : 0, next_due = start;
  if (!timed) t_end = start + (uint64_t)(o.dur * 1e9);
  else start = t0;
  long long scheduled = 0;
  uint64_t last_scan = start, drain_end = t_end + (uint64_t)o.timeout_ms * 1000000ull;
  for (;;) {
    uint64_t now = now_ns();
    if (got_signal && t_end > now) t_end = now;
    if (o.mode == M_STORM && !stopping && !t_done) {
      /* every connection opened so far is served (2xx or not), failed, or in progress */
      long long finished = done_ok + non2xx, nerr = 0;
      for (int e = 0; e < E_NCOUNT; e++) nerr += errs[e];
      finished += nerr;
      for (; next_open < o.conns && next_open - finished < o.inflight; next_open++) open_conn(&cs[next_open]);
      if (finished >= o.conns) {               /* all served or failed: hold them a little longer */
        t_done = now;
        if (t_end > now + (uint64_t)o.hold_ms * 1000000ull) t_end = now + (uint64_t)o.hold_ms * 1000000ull;
      }
    }
    if (o.mode == M_RATE && !stopping) {
      for (; next_due <= now && next_due < t_end; next_due += interval, scheduled++) {
        if (qt - qh >= QCAP) { errs[E_OVERFLOW]++; continue; }
        q[qt++ % QCAP] = next_due;
      }
      for (int i = 0; i < o.conns && qh != qt; i++)
        if (cs[i].state == S_IDLE) next_request(&cs[i]), drive(&cs[i]);
    }
    if (now >= t_end && !stopping) {
      stopping = 1;
      if (o.mode == M_RATE) { errs[E_OVERFLOW] += (long long)(qt - qh); qh = qt; }
    }
    int busy = 0;
    for (int i = 0; i < o.conns && stopping; i++) busy += cs[i].state == S_WRITE || cs[i].state == S_READ;
    if (stopping && (o.mode != M_RATE || !busy || now >= drain_end)) break;
    /* a timerfd, not epoll's millisecond timeout: sends must leave on time to the microsecond */
    uint64_t wake = stopping ? now + 10000000ull : t_end;
    if (o.mode == M_RATE && !stopping && next_due < wake) wake = next_due;
    if (wake <= now) wake = now + 1000;        /* an all-zero time would disarm the timer */
    struct itimerspec its = {.it_value = {.tv_sec = (time_t)(wake / 1000000000ull),
                                          .tv_nsec = (long)(wake % 1000000000ull)}};
    timerfd_settime(tfd, TFD_TIMER_ABSTIME, &its, NULL);
    int n = epoll_wait(ep, evs, 256, 50);
    for (int i = 0; i < n; i++) {
      if (!evs[i].data.ptr) { uint64_t x; ssize_t r = read(tfd, &x, sizeof x); (void)r; continue; }
      drive(evs[i].data.ptr);
    }
    now = now_ns();
    if (now - last_scan > 50000000ull) { check_deadlines(now); last_scan = now; }
  }
  uint64_t t_stop = o.mode == M_STORM && t_done ? t_done : o.mode == M_HANDSHAKE ? t_end
                   : (t_end < now_ns() ? t_end : now_ns());
  double elapsed = (double)(t_stop - start) / 1e9;
  if (o.mode == M_RATE) {                      /* requests still in flight past the drain time */
    for (int i = 0; i < o.conns; i++) if (cs[i].state == S_WRITE || cs[i].state == S_READ) errs[E_TIMEOUT]++;
  }
  if (o.mode == M_STORM) {                     /* still in progress, or never opened, at the limit */
    for (int i = 0; i < o.conns; i++)
      if (cs[i].state != S_IDLE && cs[i].state != S_FREE) errs[E_TIMEOUT]++;
    errs[E_TIMEOUT] += o.conns - next_open;
  }
  report(elapsed, scheduled);
  for (int i = 0; i < o.conns; i++) if (cs[i].state != S_FREE) close_conn(&cs[i]);
  return 0;
}
