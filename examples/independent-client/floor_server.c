// The floor of a write-per-delivery fan-out on this machine: the least a server can do for
// the /ws/chat/<room>/ protocol, in C, one thread, epoll, no allocation per message. It
// accepts any upgrade (the reply's accept key is not computed: probe.c does not check it, a
// browser would refuse it), and writes each text frame a member sends to every member of its
// room, the sender included, with one write per member. Nothing else: no JSON check, no
// queue, no flow control (a member that does not read is written until its socket is full,
// then it misses frames, and the count of missed frames is printed at exit). A benchmark
// yardstick only, never a server to deploy.
//
//   cc -O2 -o floor_server floor_server.c && ./floor_server 8001
//   ./probe 127.0.0.1 8001 100 50 20 5
#define _GNU_SOURCE
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_CONNS 20000
#define BUF 8192
#define ROOM_NAME 64

typedef struct conn {
  int fd;
  int upgraded;
  char room[ROOM_NAME];
  size_t len;
  unsigned char buf[BUF];
  struct conn *next, *prev;  // the room's members
} conn_t;

typedef struct room {
  char name[ROOM_NAME];
  conn_t *members;
  struct room *next;
} room_t;

static conn_t *conns[MAX_CONNS + 64];
static room_t *rooms;
static unsigned long long missed, frames;
static volatile sig_atomic_t stop;

static void on_signal(int s) {
  (void)s;
  stop = 1;
}

static room_t *room_of(const char *name) {
  for (room_t *r = rooms; r; r = r->next)
    if (strcmp(r->name, name) == 0) return r;
  room_t *r = calloc(1, sizeof *r);
  if (!r) exit(1);
  snprintf(r->name, sizeof r->name, "%s", name);
  r->next = rooms;
  rooms = r;
  return r;
}

static void drop(int ep, conn_t *c) {
  if (c->upgraded) {
    room_t *r = room_of(c->room);
    if (c->prev) c->prev->next = c->next;
    else r->members = c->next;
    if (c->next) c->next->prev = c->prev;
  }
  epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
  close(c->fd);
  conns[c->fd] = NULL;
  free(c);
}

// The request is whole: join the room named in the path and answer 101.
static int upgrade(conn_t *c, size_t head) {
  char *p = strstr((char *)c->buf, "/ws/chat/");
  if (!p) return -1;
  p += 9;
  size_t n = strcspn(p, "/ ");
  if (n == 0 || n >= ROOM_NAME) return -1;
  memcpy(c->room, p, n);
  c->room[n] = 0;
  static const char ok[] =
      "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
      "Sec-WebSocket-Accept: not-computed-by-this-benchmark=\r\n\r\n";
  if (write(c->fd, ok, sizeof ok - 1) != (ssize_t)(sizeof ok - 1)) return -1;
  room_t *r = room_of(c->room);
  c->next = r->members;
  c->prev = NULL;
  if (r->members) r->members->prev = c;
  r->members = c;
  c->upgraded = 1;
  memmove(c->buf, c->buf + head, c->len - head);
  c->len -= head;
  return 0;
}

// Whole client frames in the buffer: a text frame goes to the room, a close ends it.
static int frames_of(conn_t *c) {
  size_t at = 0;
  while (c->len - at >= 6) {
    unsigned char *f = c->buf + at;
    size_t n = f[1] & 0x7f, head = 6;
    if (n == 126) {
      if (c->len - at < 8) break;
      n = ((size_t)f[2] << 8) | f[3];
      head = 8;
    } else if (n == 127) {
      return -1;  // not in this benchmark
    }
    if (!(f[1] & 0x80) || head + n > BUF) return -1;
    if (c->len - at < head + n) break;
    unsigned char *key = f + head - 4, *p = f + head;
    for (size_t i = 0; i < n; i++) p[i] ^= key[i % 4];
    unsigned char op = f[0] & 0x0f;
    if (op == 0x8) return -1;
    if (op == 0x1) {
      unsigned char out[BUF + 4];
      size_t h = 2;
      out[0] = 0x81;
      if (n < 126) {
        out[1] = (unsigned char)n;
      } else {
        out[1] = 126;
        out[2] = (unsigned char)(n >> 8);
        out[3] = (unsigned char)n;
        h = 4;
      }
      memcpy(out + h, p, n);
      for (conn_t *m = room_of(c->room)->members; m; m = m->next) {
        frames++;
        if (write(m->fd, out, h + n) != (ssize_t)(h + n)) missed++;
      }
    }
    at += head + n;
  }
  memmove(c->buf, c->buf + at, c->len - at);
  c->len -= at;
  return 0;
}

int main(int argc, char **argv) {
  int port = argc > 1 ? atoi(argv[1]) : 8001;
  if (port <= 0) {
    fprintf(stderr, "usage: %s PORT\n", argv[0]);
    return 2;
  }
  signal(SIGINT, on_signal);
  signal(SIGTERM, on_signal);
  signal(SIGPIPE, SIG_IGN);
  int ls = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0), one = 1;
  setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port),
                          .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  if (bind(ls, (struct sockaddr *)&a, sizeof a) < 0 || listen(ls, 4096) < 0) {
    perror("listen");
    return 1;
  }
  int ep = epoll_create1(EPOLL_CLOEXEC);
  struct epoll_event le = {.events = EPOLLIN, .data.fd = ls};
  epoll_ctl(ep, EPOLL_CTL_ADD, ls, &le);
  fprintf(stderr, "listening on 127.0.0.1:%d\n", port);
  struct epoll_event ev[512];
  while (!stop) {
    int k = epoll_wait(ep, ev, 512, 200);
    for (int j = 0; j < k; j++) {
      int fd = ev[j].data.fd;
      if (fd == ls) {
        int s;
        while ((s = accept4(ls, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
          if (s >= MAX_CONNS) {
            close(s);
            continue;
          }
          setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
          conn_t *c = calloc(1, sizeof *c);
          if (!c) exit(1);
          c->fd = s;
          conns[s] = c;
          struct epoll_event e = {.events = EPOLLIN, .data.fd = s};
          epoll_ctl(ep, EPOLL_CTL_ADD, s, &e);
        }
        continue;
      }
      conn_t *c = conns[fd];
      if (!c) continue;
      for (;;) {
        ssize_t r = read(fd, c->buf + c->len, BUF - 1 - c->len);
        if (r == 0 || (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) {
          drop(ep, c);
          break;
        }
        if (r < 0) break;
        c->len += r;
        if (!c->upgraded) {
          c->buf[c->len] = 0;
          char *end = strstr((char *)c->buf, "\r\n\r\n");
          if (!end) {
            if (c->len >= BUF - 1) { drop(ep, c); break; }
            continue;
          }
          if (upgrade(c, (size_t)(end + 4 - (char *)c->buf)) < 0) { drop(ep, c); break; }
        }
        if (frames_of(c) < 0) { drop(ep, c); break; }
      }
    }
  }
  fprintf(stderr, "%llu frames written, %llu missed (socket full)\n", frames, missed);
  return 0;
}
