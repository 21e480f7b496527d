// An independent probe for the /ws/chat/<room>/ protocol in C, sharing no code (and no
// WebSocket library) with loadgen: ROOMS rooms of CLIENTS members, one sender per room sending
// RATE messages per second for SECONDS after a 2 s warm-up, every member timing each delivery
// from the moment just before its sender's write (CLOCK_MONOTONIC, one process, one thread,
// epoll). Light enough to run beside a loadgen run and measure the same server under the same
// load (probe.mjs, in Node.js, cannot keep up at 50,000 deliveries/s).
//
//   cc -O2 -o probe probe.c && ./probe 127.0.0.1 8000 [rooms=2] [clients=50] [rate=10] [seconds=5]
//
// Prints one JSON line: expected, delivered, lost, p50/p90/p99/max in ms.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#define WARMUP_NS 2000000000LL
#define BUF 65536

typedef struct {
  int fd;
  int room;
  size_t len;
  unsigned char buf[BUF];
} conn_t;

static int64_t now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (int64_t)t.tv_sec * 1000000000LL + t.tv_nsec;
}

static void die(const char *what) {
  perror(what);
  exit(1);
}

static int cmp(const void *a, const void *b) {
  int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  return (x > y) - (x < y);
}

// Opens one member of `room` and completes the upgrade (blocking), then makes it non-blocking.
static void open_member(conn_t *c, const char *host, int port, unsigned run, int room) {
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
  if (inet_pton(AF_INET, host, &a.sin_addr) != 1) die("address");
  c->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (c->fd < 0 || connect(c->fd, (struct sockaddr *)&a, sizeof a) < 0) die("connect");
  int one = 1;
  setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  char req[512];
  int n = snprintf(req, sizeof req,
                   "GET /ws/chat/cprobe%08x_%d/ HTTP/1.1\r\nHost: %s:%d\r\nUpgrade: websocket\r\n"
                   "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                   "Sec-WebSocket-Version: 13\r\n\r\n",
                   run, room, host, port);
  if (write(c->fd, req, n) != n) die("write upgrade");
  c->len = 0;
  char *end = NULL;
  while (!end) {
    ssize_t r = read(c->fd, c->buf + c->len, BUF - 1 - c->len);
    if (r <= 0) die("read upgrade");
    c->len += r;
    c->buf[c->len] = 0;
    end = strstr((char *)c->buf, "\r\n\r\n");
  }
  if (strncmp((char *)c->buf, "HTTP/1.1 101", 12) != 0) {
    fprintf(stderr, "upgrade refused: %.60s\n", c->buf);
    exit(1);
  }
  size_t head = (size_t)(end + 4 - (char *)c->buf);
  memmove(c->buf, c->buf + head, c->len - head);
  c->len -= head;
  c->room = room;
  if (fcntl(c->fd, F_SETFL, O_NONBLOCK) < 0) die("nonblocking");
}

// Writes one masked client text frame (payload under 126 bytes).
static void send_text(int fd, const char *text) {
  size_t n = strlen(text);
  unsigned char f[256];
  unsigned char key[4] = {0x12, 0x34, 0x56, 0x78};
  f[0] = 0x81;
  f[1] = 0x80 | (unsigned char)n;
  memcpy(f + 2, key, 4);
  for (size_t i = 0; i < n; i++) f[6 + i] = (unsigned char)text[i] ^ key[i % 4];
  if (write(fd, f, 6 + n) != (ssize_t)(6 + n)) die("write frame");
}

// Handles the whole frames in `c`'s buffer: a probe message is timed, a ping answered.
static void frames(conn_t *c, int64_t *lat, size_t *delivered, size_t cap) {
  size_t at = 0;
  for (;;) {
    if (c->len - at < 2) break;
    unsigned char *f = c->buf + at;
    uint64_t n = f[1] & 0x7f;
    size_t head = 2;
    if (n == 126) {
      if (c->len - at < 4) break;
      n = ((uint64_t)f[2] << 8) | f[3];
      head = 4;
    } else if (n == 127) {
      if (c->len - at < 10) break;
      n = 0;
      for (int i = 0; i < 8; i++) n = (n << 8) | f[2 + i];
      head = 10;
    }
    if (n > BUF - 16) {
      fprintf(stderr, "frame of %llu bytes\n", (unsigned long long)n);
      exit(1);
    }
    if (c->len - at < head + n) break;
    int64_t t = now_ns();
    unsigned char op = f[0] & 0x0f;
    char *p = (char *)f + head;
    if (op == 0x1) {
      // {"message": "P:<room>:<seq>:<sent ns>:<measured>"}
      char *m = memmem(p, n, "\"P:", 3);
      int room, seq, measured;
      long long sent;
      if (m && sscanf(m + 3, "%d:%d:%lld:%d", &room, &seq, &sent, &measured) == 4 && measured &&
          *delivered < cap)
        lat[(*delivered)++] = t - sent;
    } else if (op == 0x9) {
      // Pong with the ping's payload (masked with a zero key); a control frame carries at
      // most 125 bytes (RFC 6455 5.5).
      if (n > 125) {
        fprintf(stderr, "a ping of %llu bytes\n", (unsigned long long)n);
        exit(1);
      }
      unsigned char pong[6 + 125];
      pong[0] = 0x8a;
      pong[1] = 0x80 | (unsigned char)n;
      memset(pong + 2, 0, 4);
      memcpy(pong + 6, p, n);
      if (write(c->fd, pong, 6 + n) < 0) die("write pong");
    } else if (op == 0x8) {
      fprintf(stderr, "the server closed a member\n");
      exit(1);
    }
    at += head + n;
  }
  memmove(c->buf, c->buf + at, c->len - at);
  c->len -= at;
}

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: %s HOST PORT [rooms=2] [clients=50] [rate=10] [seconds=5]\n", argv[0]);
    return 2;
  }
  const char *host = argv[1];
  int port = atoi(argv[2]);
  int rooms = argc > 3 ? atoi(argv[3]) : 2, clients = argc > 4 ? atoi(argv[4]) : 50;
  double rate = argc > 5 ? atof(argv[5]) : 10, secs = argc > 6 ? atof(argv[6]) : 5;
  if (port <= 0 || rooms <= 0 || clients <= 0 || rate <= 0 || secs <= 0) {
    fprintf(stderr, "port, rooms, clients, rate and seconds must be above 0\n");
    return 2;
  }
  int total = rooms * clients;
  conn_t *cs = calloc(total, sizeof *cs);
  size_t cap = (size_t)(rooms * clients * rate * (secs + 1)) + 16;
  int64_t *lat = malloc(cap * sizeof *lat);
  if (!cs || !lat) die("memory");
  unsigned run = (unsigned)now_ns() ^ (unsigned)getpid();
  int ep = epoll_create1(EPOLL_CLOEXEC);
  for (int i = 0; i < total; i++) {
    open_member(&cs[i], host, port, run, i % rooms);
    struct epoll_event e = {.events = EPOLLIN, .data.u32 = (uint32_t)i};
    if (epoll_ctl(ep, EPOLL_CTL_ADD, cs[i].fd, &e) < 0) die("epoll_ctl");
  }
  fprintf(stderr, "connected %d\n", total);
  // The sender of room r is member r; sends are spread over the first gap.
  int tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
  struct epoll_event te = {.events = EPOLLIN, .data.u32 = UINT32_MAX};
  if (tfd < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, tfd, &te) < 0) die("timerfd");
  int64_t gap = (int64_t)(1e9 / rate), start = now_ns(), end = start + WARMUP_NS + (int64_t)(secs * 1e9);
  int64_t *next = malloc(rooms * sizeof *next);
  int *seq = calloc(rooms, sizeof *seq);
  for (int r = 0; r < rooms; r++) next[r] = start + gap * r / rooms;
  size_t expected = 0, delivered = 0;
  struct epoll_event ev[256];
  for (;;) {
    int64_t t = now_ns(), earliest = INT64_MAX;
    for (int r = 0; r < rooms; r++) {
      if (next[r] < end && next[r] <= t) {
        int measured = next[r] >= start + WARMUP_NS;
        if (measured) expected += clients;
        char msg[128];
        snprintf(msg, sizeof msg, "{\"message\":\"P:%d:%d:%lld:%d\"}", r, seq[r]++, (long long)now_ns(),
                 measured);
        send_text(cs[r].fd, msg);
        next[r] += gap;
      }
      if (next[r] < end && next[r] < earliest) earliest = next[r];
    }
    if (earliest == INT64_MAX && t > end + 1000000000LL) break;  // 1 s to settle
    struct itimerspec it = {0};
    int64_t when = earliest == INT64_MAX ? end + 1000000001LL : earliest;
    it.it_value.tv_sec = when / 1000000000LL;
    it.it_value.tv_nsec = when % 1000000000LL;
    timerfd_settime(tfd, TFD_TIMER_ABSTIME, &it, NULL);
    int k = epoll_wait(ep, ev, 256, -1);
    if (k < 0 && errno != EINTR) die("epoll_wait");
    for (int j = 0; j < k; j++) {
      uint32_t i = ev[j].data.u32;
      if (i == UINT32_MAX) {
        uint64_t x;
        if (read(tfd, &x, sizeof x) < 0 && errno != EAGAIN) die("read timerfd");
        continue;
      }
      conn_t *c = &cs[i];
      for (;;) {
        ssize_t r = read(c->fd, c->buf + c->len, BUF - c->len);
        if (r > 0) {
          c->len += r;
          frames(c, lat, &delivered, cap);
          continue;
        }
        if (r == 0) {
          fprintf(stderr, "the server closed a member\n");
          return 1;
        }
        if (errno == EAGAIN || errno == EWOULDBLOCK) break;
        die("read");
      }
    }
  }
  qsort(lat, delivered, sizeof *lat, cmp);
#define AT(q) (delivered ? lat[(size_t)((delivered - 1) * (q))] / 1e6 : 0.0)
  printf("{\"expected\":%zu,\"delivered\":%zu,\"lost\":%zd,\"p50_ms\":%.3f,\"p90_ms\":%.3f,"
         "\"p99_ms\":%.3f,\"max_ms\":%.3f}\n",
         expected, delivered, (ssize_t)(expected - delivered), AT(0.5), AT(0.9), AT(0.99), AT(1.0));
  return 0;
}
