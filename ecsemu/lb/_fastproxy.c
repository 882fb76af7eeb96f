/*
 * ecsemu.lb._fastproxy: the HTTP listener's fast path, an epoll loop in C.
 *
 * The Python engine (http_proxy.py, exchange.py) is the reference implementation of the
 * HTTP listener; this module is an accelerator for its commonest work, forwarding plain
 * requests, and hands everything else back to it.
 *
 * What it does
 * ------------
 * It accepts on the HTTP listeners it is given. For each request on a client connection it
 * either forwards it itself, or hands the connection (its socket and the bytes it buffered)
 * to the Python engine through the callback given to run(); the connection then stays with
 * Python for good. Hand-offs happen only between requests, never with a byte of ours still
 * unsent to that client.
 *
 * Forwarded here ("plain" requests): HTTP/1.0 or 1.1, a well-formed head under 16 KiB, no
 * Transfer-Encoding, Upgrade, Expect or X-Amzn-Trace-Id, Connection naming only close or
 * keep-alive, a body of at most 64 KiB given by Content-Length, Host present in 1.1, and a
 * listener whose only rule is a default forward to plain-HTTP target groups (the Python side
 * decides that and configures the listener as "forward"; any other listener hands every
 * connection off as it is accepted).
 *
 * Behaviour, as the Python engine's (see exchange.py / forwarding.py / balancing.py):
 * X-Forwarded-For appended, X-Forwarded-Proto/Port replaced, X-Amzn-Trace-Id added;
 * hop-by-hop fields dropped both ways; keep-alive to clients and pooled connections to
 * targets (at most 256 idle per target, closed after 4 s idle); one retry on a fresh
 * connection when a reused one closes before answering; 502 when the target refuses, resets
 * or answers garbage before its response began (the client is cut after); 503 when the
 * target group has no candidate; 504 after the listener's idle timeout with no byte moving;
 * responses re-framed for the client (chunked for HTTP/1.1 when the target's body is chunked
 * or ends at close); round robin or least outstanding requests over the candidates the
 * Python side pushes (it owns health, draining and fail-open); smooth weighted round robin
 * between target groups.
 *
 * Line ends, as http1.py reads them: a request's lines end in CRLF, and any other CR or LF in
 * its head hands it to the Python engine (which answers 400). A target's response lines (the
 * status line, fields, the empty line, chunk-size lines, chunk data ends, trailers) end in
 * CRLF or a bare LF, as nginx and curl accept; a bare CR is garbage. What is sent on to the
 * client is re-written with CRLF line ends.
 *
 * Invariants
 * ----------
 * - Only the loop thread (the one inside run()) does socket I/O on client and upstream
 *   connections and frees objects; it holds `lock` while it handles a batch of events and
 *   never takes the GIL while holding it (hand-offs are queued and delivered after).
 * - Python-side calls take `lock` (with the GIL released while waiting) and only mark
 *   objects (closed, dropped); the loop thread frees them at the end of a batch.
 * - An object closed during a batch is marked dead and freed only when the batch ends, so a
 *   later event of the same batch never touches freed memory.
 * - A target's in_flight is decremented before the response's last bytes are written to the
 *   client: a control plane that saw the answer never sees the request still in flight.
 */

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_HEAD 16384
#define MAX_RESPONSE_HEAD 65536
#define MAX_HEADERS 100
#define MAX_BODY 65536
#define READ_SIZE 65536
#define WRITE_HIGH (256 * 1024)
#define PIPELINE_LIMIT (64 * 1024)
#define UP_MAX_IDLE 256
#define UP_IDLE_MS 4000
#define CONNECT_TIMEOUT_MS 10000
#define SWEEP_MS 20
#define POOL_SWEEP_MS 500
#define HASH_SIZE 256
#define MAX_EVENTS 256
#define MAX_DROP_NAMES 128
#define MAX_RESPONSE_HEADERS 16384
#define ACCEPT_PAUSE_MS 1000

enum { K_DEAD = 0, K_LISTENER, K_CLIENT, K_UPSTREAM, K_WAKE };
enum { MODE_HANDOFF = 0, MODE_FORWARD = 1 };
enum { CS_HEAD, CS_EXCHANGE, CS_DISCARD, CS_CLOSING };
enum { R_HEAD, R_LENGTH, R_CHUNKED, R_CLOSE };
enum { CH_SIZE, CH_DATA, CH_DATA_CRLF, CH_TRAILER };

/* ------------------------------------------------------------------------------ buffers */

typedef struct {
    char *p;
    size_t off, len, cap;
} buf_t;

static void buf_reserve(buf_t *b, size_t extra) {
    if (b->off && b->off == b->len) b->off = b->len = 0;
    if (b->len + extra <= b->cap) return;
    if (b->off) {
        memmove(b->p, b->p + b->off, b->len - b->off);
        b->len -= b->off;
        b->off = 0;
        if (b->len + extra <= b->cap) return;
    }
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->len + extra) cap *= 2;
    char *p = realloc(b->p, cap);
    if (!p) abort(); /* out of memory: nothing sensible is left to do */
    b->p = p;
    b->cap = cap;
}
static inline size_t buf_avail(const buf_t *b) { return b->len - b->off; }
static inline char *buf_data(const buf_t *b) { return b->p + b->off; }
static inline void buf_eat(buf_t *b, size_t n) {
    b->off += n;
    if (b->off >= b->len) b->off = b->len = 0;
}
static inline void buf_clear(buf_t *b) { b->off = b->len = 0; }
static void buf_free(buf_t *b) {
    free(b->p);
    b->p = NULL;
    b->off = b->len = b->cap = 0;
}
static void buf_put(buf_t *b, const void *d, size_t n) {
    if (!n) return;
    buf_reserve(b, n);
    memcpy(b->p + b->len, d, n);
    b->len += n;
}
static void buf_puts(buf_t *b, const char *s) { buf_put(b, s, strlen(s)); }
static void buf_printf(buf_t *b, const char *fmt, ...) {
    va_list ap;
    buf_reserve(b, 256);
    va_start(ap, fmt);
    int n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    if ((size_t)n >= b->cap - b->len) {
        buf_reserve(b, (size_t)n + 1);
        va_start(ap, fmt);
        vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
        va_end(ap);
    }
    b->len += (size_t)n;
}

/* ------------------------------------------------------------------------------ objects */

typedef struct engine engine_t;
typedef struct target target_t;
typedef struct group group_t;
typedef struct listener listener_t;
typedef struct client client_t;
typedef struct upstream upstream_t;

struct target {
    long id;
    struct sockaddr_in addr;
    long in_flight;
    long long requests;
    int dropped;
    upstream_t *idle; /* pooled connections, most recently used first */
    int idle_count;
    target_t *hnext;
    target_t *dnext; /* on the dropped list */
};

struct group {
    long id;
    int algorithm; /* 0 round robin, 1 least outstanding requests */
    unsigned long counter;
    int n;
    target_t **t;
    group_t *hnext;
};

typedef struct {
    long gid;
    long weight;
    long score;
} forward_t;

struct listener {
    int kind;
    int fd;
    long id;
    int port;
    long idle_ms;
    int closed;
    int mode;
    int nfwd;
    forward_t *fwd;
    int nconns;
    long long paused_until_ms; /* accept paused (out of fds) until then */
    listener_t *next;
};

struct client {
    int kind;
    int fd;
    engine_t *eng;
    listener_t *lst;
    int state;
    uint32_t events;
    buf_t in, out;
    /* the current request */
    int keep, http11, head_req;
    size_t body_left;
    /* the current exchange */
    target_t *target;
    upstream_t *up;
    buf_t req; /* the request as sent upstream (head and body), kept for the one retry */
    int got_bytes, reused, retried, resp_started, keep_client, chunk_client;
    long long last_ms, exchange_start_ms;
    int want_handoff;
    int upstream_paused;
    int eof; /* the client half-closed: answer what it sent, then close */
    char ip[INET_ADDRSTRLEN];
    client_t *prev, *next;
    client_t *gnext; /* graveyard */
};

struct upstream {
    int kind;
    int fd;
    engine_t *eng;
    target_t *target;
    client_t *owner;
    int connecting;
    uint32_t events;
    buf_t in, out;
    int rstate, cstate, resp_keep;
    unsigned long long left;
    long long idle_since_ms;
    upstream_t *next_idle;
    upstream_t *gnext;
};

typedef struct {
    long lid;
    int fd;
    char *data;
    size_t len;
} handoff_t;

struct engine {
    PyObject_HEAD
    int ep;
    int wake;
    int wake_kind; /* epoll data for the eventfd: points here */
    pthread_mutex_t lock;
    volatile int stopping;
    int running;
    int listeners_dirty;
    target_t *targets[HASH_SIZE];
    group_t *groups[HASH_SIZE];
    target_t *dropped;
    listener_t *listeners;
    client_t *clients;
    client_t *dead_clients;
    upstream_t *dead_upstreams;
    handoff_t *ho;
    size_t nho, capho;
    uint64_t rng;
    long long now_ms, date_s, last_pool_sweep_ms;
    char date[64];
    void *resp_headers; /* header_t[MAX_RESPONSE_HEADERS]: response heads may be long */
};

static long long monotonic_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static uint64_t next_random(engine_t *e) {
    /* xorshift64*: trace ids only need to be unlikely to repeat */
    uint64_t x = e->rng;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    e->rng = x;
    return x * 2685821657736338717ULL;
}

static const char *http_date(engine_t *e) {
    time_t now = time(NULL);
    if (now != e->date_s) {
        struct tm tm;
        static const char *days[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
        static const char *months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                       "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
        gmtime_r(&now, &tm);
        snprintf(e->date, sizeof e->date, "%s, %02d %s %04d %02d:%02d:%02d GMT", days[tm.tm_wday], tm.tm_mday,
                 months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
        e->date_s = now;
    }
    return e->date;
}

static inline unsigned hash_id(long id) { return (unsigned)((unsigned long)id * 2654435761UL) % HASH_SIZE; }

static target_t *find_target(engine_t *e, long id) {
    for (target_t *t = e->targets[hash_id(id)]; t; t = t->hnext)
        if (t->id == id) return t;
    return NULL;
}

static group_t *find_group(engine_t *e, long id) {
    for (group_t *g = e->groups[hash_id(id)]; g; g = g->hnext)
        if (g->id == id) return g;
    return NULL;
}

static listener_t *find_listener(engine_t *e, long id) {
    for (listener_t *l = e->listeners; l; l = l->next)
        if (l->id == id && !l->closed) return l;
    return NULL;
}

/* ------------------------------------------------------------------------------ epoll */

static void ep_set(engine_t *e, void *obj, int fd, uint32_t *current, uint32_t want) {
    if (*current == want || fd < 0) return;
    struct epoll_event ev;
    ev.events = want;
    ev.data.ptr = obj;
    epoll_ctl(e->ep, EPOLL_CTL_MOD, fd, &ev);
    *current = want;
}

static int ep_add(engine_t *e, void *obj, int fd, uint32_t *current, uint32_t want) {
    struct epoll_event ev;
    ev.events = want;
    ev.data.ptr = obj;
    if (epoll_ctl(e->ep, EPOLL_CTL_ADD, fd, &ev) != 0) return -1;
    *current = want;
    return 0;
}

/* ------------------------------------------------------------------------------ responses */

static const char *reason_phrase(int status) {
    switch (status) {
    case 502: return "Bad Gateway";
    case 503: return "Service Temporarily Unavailable";
    case 504: return "Gateway Time-out";
    default: return "Unknown";
    }
}

/* The load balancer's own error answer, byte for byte as responses.error_response writes it. */
static void put_error(engine_t *e, buf_t *out, int status, int keep, int head_only) {
    char body[256];
    const char *reason = reason_phrase(status);
    int n = snprintf(body, sizeof body,
                     "<html>\r\n<head><title>%d %s</title></head>\r\n<body>\r\n"
                     "<center><h1>%d %s</h1></center>\r\n</body>\r\n</html>\r\n",
                     status, reason, status, reason);
    buf_printf(out,
               "HTTP/1.1 %d %s\r\nServer: awselb/2.0\r\nDate: %s\r\nContent-Type: text/html\r\n"
               "Content-Length: %d\r\nConnection: %s\r\n\r\n",
               status, reason, http_date(e), n, keep ? "keep-alive" : "close");
    if (!head_only) buf_put(out, body, (size_t)n);
}

/* ------------------------------------------------------------------------------ lifecycle */

static void client_flush(client_t *c);
static void client_process(client_t *c);
static void response_process(upstream_t *up);
static void upstream_flush(upstream_t *up);
static void client_resume(client_t *c);

static void target_release(engine_t *e, target_t *t) {
    (void)e;
    if (t->in_flight > 0) t->in_flight--;
}

static void upstream_close(upstream_t *up) {
    if (up->kind == K_DEAD) return;
    engine_t *e = up->eng;
    if (up->fd >= 0) {
        epoll_ctl(e->ep, EPOLL_CTL_DEL, up->fd, NULL);
        close(up->fd);
        up->fd = -1;
    }
    if (!up->owner && up->target) {
        /* pooled: unlink from the idle list */
        upstream_t **pp = &up->target->idle;
        while (*pp && *pp != up) pp = &(*pp)->next_idle;
        if (*pp) {
            *pp = up->next_idle;
            up->target->idle_count--;
        }
    }
    if (up->owner && up->owner->up == up) up->owner->up = NULL;
    up->owner = NULL;
    up->kind = K_DEAD;
    up->gnext = e->dead_upstreams;
    e->dead_upstreams = up;
}

static void client_unlink(client_t *c) {
    engine_t *e = c->eng;
    if (c->prev) c->prev->next = c->next;
    else e->clients = c->next;
    if (c->next) c->next->prev = c->prev;
    c->prev = c->next = NULL;
    c->lst->nconns--;
    c->kind = K_DEAD;
    c->gnext = e->dead_clients;
    e->dead_clients = c;
}

/* The exchange ends without a response: the upstream is dropped, the request counted done. */
static void exchange_drop(client_t *c) {
    if (c->up) upstream_close(c->up);
    c->up = NULL;
    if (c->target) target_release(c->eng, c->target);
    c->target = NULL;
}

static void client_close(client_t *c) {
    if (c->kind == K_DEAD) return;
    exchange_drop(c);
    if (c->fd >= 0) {
        epoll_ctl(c->eng->ep, EPOLL_CTL_DEL, c->fd, NULL);
        close(c->fd);
        c->fd = -1;
    }
    client_unlink(c);
}

static void client_handoff(client_t *c) {
    engine_t *e = c->eng;
    if (e->nho == e->capho) {
        e->capho = e->capho ? e->capho * 2 : 16;
        e->ho = realloc(e->ho, e->capho * sizeof *e->ho);
        if (!e->ho) abort();
    }
    handoff_t *h = &e->ho[e->nho++];
    h->lid = c->lst->id;
    h->fd = c->fd;
    h->len = buf_avail(&c->in);
    h->data = NULL;
    if (h->len) {
        h->data = malloc(h->len);
        if (!h->data) abort();
        memcpy(h->data, buf_data(&c->in), h->len);
    }
    epoll_ctl(e->ep, EPOLL_CTL_DEL, c->fd, NULL);
    c->fd = -1;
    client_unlink(c);
}

static void client_set_reading(client_t *c, int on) {
    if (c->eof) on = 0;
    uint32_t want = (c->events & EPOLLOUT) | (on ? EPOLLIN : 0);
    ep_set(c->eng, c, c->fd, &c->events, want);
}

static void upstream_set_events(upstream_t *up) {
    uint32_t want = 0;
    if (up->connecting || buf_avail(&up->out)) want |= EPOLLOUT;
    if (!up->connecting && !(up->owner && up->owner->upstream_paused)) want |= EPOLLIN;
    ep_set(up->eng, up, up->fd, &up->events, want);
}

/* ------------------------------------------------------------------------------ upstreams */

static upstream_t *upstream_connect(engine_t *e, target_t *t) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_TCP);
    if (fd < 0) return NULL;
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    int connecting = 0;
    if (connect(fd, (struct sockaddr *)&t->addr, sizeof t->addr) != 0) {
        if (errno != EINPROGRESS) {
            close(fd);
            return NULL;
        }
        connecting = 1;
    }
    upstream_t *up = calloc(1, sizeof *up);
    if (!up) abort();
    up->kind = K_UPSTREAM;
    up->fd = fd;
    up->eng = e;
    up->target = t;
    up->connecting = connecting;
    if (ep_add(e, up, fd, &up->events, connecting ? EPOLLOUT : EPOLLIN) != 0) {
        close(fd);
        free(up);
        return NULL;
    }
    return up;
}

static upstream_t *pool_take(engine_t *e, target_t *t) {
    while (t->idle) {
        upstream_t *up = t->idle;
        t->idle = up->next_idle;
        t->idle_count--;
        up->next_idle = NULL;
        if (e->now_ms - up->idle_since_ms < UP_IDLE_MS) return up;
        up->target = NULL; /* already unlinked */
        upstream_close(up);
    }
    return NULL;
}

static void pool_put(upstream_t *up) {
    target_t *t = up->target;
    up->owner = NULL;
    if (t->dropped || t->idle_count >= UP_MAX_IDLE) {
        upstream_close(up);
        return;
    }
    buf_clear(&up->in);
    up->idle_since_ms = up->eng->now_ms;
    up->next_idle = t->idle;
    t->idle = up;
    t->idle_count++;
    upstream_set_events(up);
}

static void upstream_write(upstream_t *up, const char *d, size_t n) {
    if (!n) return;
    if (!up->connecting && !buf_avail(&up->out)) {
        ssize_t w = send(up->fd, d, n, MSG_NOSIGNAL);
        if (w == (ssize_t)n) return;
        if (w < 0) {
            if (errno != EAGAIN && errno != EWOULDBLOCK) w = 0; /* the read side reports the loss */
            else w = 0;
        }
        d += w;
        n -= (size_t)w;
    }
    buf_put(&up->out, d, n);
    upstream_set_events(up);
}

static void upstream_flush(upstream_t *up) {
    while (buf_avail(&up->out)) {
        ssize_t w = send(up->fd, buf_data(&up->out), buf_avail(&up->out), MSG_NOSIGNAL);
        if (w <= 0) break;
        buf_eat(&up->out, (size_t)w);
    }
    upstream_set_events(up);
}

/* ------------------------------------------------------------------------------ client output */

static void client_flush(client_t *c) {
    if (c->kind == K_DEAD) return;
    while (buf_avail(&c->out)) {
        ssize_t w = send(c->fd, buf_data(&c->out), buf_avail(&c->out), MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK) break;
            client_close(c);
            return;
        }
        buf_eat(&c->out, (size_t)w);
    }
    size_t pending = buf_avail(&c->out);
    if (pending) {
        if (!(c->events & EPOLLOUT)) ep_set(c->eng, c, c->fd, &c->events, c->events | EPOLLOUT);
        if (pending > WRITE_HIGH && c->up && !c->upstream_paused) {
            c->upstream_paused = 1;
            upstream_set_events(c->up);
        }
        return;
    }
    if (c->events & EPOLLOUT) ep_set(c->eng, c, c->fd, &c->events, c->events & ~(uint32_t)EPOLLOUT);
    if (c->upstream_paused) {
        c->upstream_paused = 0;
        if (c->up) upstream_set_events(c->up);
    }
    if (c->state == CS_CLOSING) {
        client_close(c);
        return;
    }
    if (c->want_handoff) client_handoff(c);
}

/* ------------------------------------------------------------------------------ exchange endings */

/* The exchange is over; the caller then calls client_resume (never recursing from here into
 * the next request: a long pipeline would otherwise nest a frame per request). */
static void exchange_end(client_t *c, int keep) {
    c->target = NULL;
    c->up = NULL;
    buf_clear(&c->req);
    c->last_ms = c->eng->now_ms; /* the idle timeout counts from the end of the exchange */
    if (keep && !c->lst->closed) {
        c->state = CS_HEAD;
        client_set_reading(c, 1);
    } else {
        c->state = CS_CLOSING;
        client_set_reading(c, 0);
    }
}

/* After an upstream event or a timeout: serve a pipelined request, then write out. */
static void client_resume(client_t *c) {
    if (c->kind == K_DEAD) return;
    if (c->state == CS_HEAD && (buf_avail(&c->in) || c->eof)) client_process(c);
    client_flush(c);
}

/* Nothing was sent to the client yet: the load balancer answers itself. */
static void exchange_fail(client_t *c, int status) {
    exchange_drop(c);
    int keep = c->keep && c->body_left == 0;
    put_error(c->eng, &c->out, status, keep, c->head_req);
    exchange_end(c, keep);
}

/* The response had begun and cannot be completed: the client connection is cut. */
static void exchange_cut(client_t *c) {
    exchange_drop(c);
    client_flush(c);
    client_close(c);
}

static void response_complete(client_t *c, upstream_t *up) {
    int reusable = up->resp_keep && c->body_left == 0 && buf_avail(&up->in) == 0 && up->kind != K_DEAD;
    if (c->target) target_release(c->eng, c->target);
    c->target = NULL;
    c->up = NULL;
    if (up->kind != K_DEAD) {
        if (reusable) pool_put(up);
        else {
            up->owner = NULL;
            upstream_close(up);
        }
    }
    exchange_end(c, c->keep_client && c->body_left == 0);
}

/* ------------------------------------------------------------------------------ parsing helpers */

static const unsigned char TCHAR[256] = {
    ['!'] = 1, ['#'] = 1, ['$'] = 1, ['%'] = 1, ['&'] = 1, ['\''] = 1, ['*'] = 1, ['+'] = 1, ['-'] = 1,
    ['.'] = 1, ['^'] = 1, ['_'] = 1, ['`'] = 1, ['|'] = 1, ['~'] = 1,
    ['0'] = 1, ['1'] = 1, ['2'] = 1, ['3'] = 1, ['4'] = 1, ['5'] = 1, ['6'] = 1, ['7'] = 1, ['8'] = 1, ['9'] = 1,
    ['A'] = 1, ['B'] = 1, ['C'] = 1, ['D'] = 1, ['E'] = 1, ['F'] = 1, ['G'] = 1, ['H'] = 1, ['I'] = 1,
    ['J'] = 1, ['K'] = 1, ['L'] = 1, ['M'] = 1, ['N'] = 1, ['O'] = 1, ['P'] = 1, ['Q'] = 1, ['R'] = 1,
    ['S'] = 1, ['T'] = 1, ['U'] = 1, ['V'] = 1, ['W'] = 1, ['X'] = 1, ['Y'] = 1, ['Z'] = 1,
    ['a'] = 1, ['b'] = 1, ['c'] = 1, ['d'] = 1, ['e'] = 1, ['f'] = 1, ['g'] = 1, ['h'] = 1, ['i'] = 1,
    ['j'] = 1, ['k'] = 1, ['l'] = 1, ['m'] = 1, ['n'] = 1, ['o'] = 1, ['p'] = 1, ['q'] = 1, ['r'] = 1,
    ['s'] = 1, ['t'] = 1, ['u'] = 1, ['v'] = 1, ['w'] = 1, ['x'] = 1, ['y'] = 1, ['z'] = 1,
};

typedef struct {
    const char *name;
    size_t nlen;
    const char *value;
    size_t vlen;
} header_t;

static int name_is(const header_t *h, const char *lower, size_t len) {
    return h->nlen == len && strncasecmp(h->name, lower, len) == 0;
}

/* Splits a head into its start line and header fields. `len` bytes at `d`: the start line and
 * the field lines, each with its line end, without the empty line that ends the head. A line
 * ends in CRLF, or with `bare_lf` (responses, as nginx and curl read them) in a LF alone.
 * Returns -1 on anything malformed: a bare CR, a bare LF (unless allowed), obs-fold, a bad
 * name, a control character. */
static int split_head(const char *d, size_t len, int bare_lf, const char **line, size_t *line_len, header_t *h,
                      int *nh, int max_headers) {
    const char *p = d, *end = d + len;
    const char *lf = memchr(p, '\n', len);
    if (!lf) return -1;
    const char *cr = lf > p && lf[-1] == '\r' ? lf - 1 : lf; /* the line's end */
    if (cr == lf && !bare_lf) return -1;
    if (memchr(p, '\r', (size_t)(cr - p))) return -1;
    *line = p;
    *line_len = (size_t)(cr - p);
    p = lf + 1;
    int n = 0;
    while (p < end) {
        lf = memchr(p, '\n', (size_t)(end - p));
        if (!lf) return -1;
        cr = lf > p && lf[-1] == '\r' ? lf - 1 : lf;
        if (cr == lf && !bare_lf) return -1;
        if (n == max_headers) return -1;
        /* below, the name's characters and the value's refuse any other CR or LF */
        const char *q = p;
        while (q < cr && TCHAR[(unsigned char)*q]) q++;
        if (q == p || q == cr || *q != ':') return -1; /* also refuses obs-fold (a leading space) */
        h[n].name = p;
        h[n].nlen = (size_t)(q - p);
        q++;
        while (q < cr && (*q == ' ' || *q == '\t')) q++;
        const char *ve = cr;
        while (ve > q && (ve[-1] == ' ' || ve[-1] == '\t')) ve--;
        for (const char *v = q; v < ve; v++) {
            unsigned char ch = (unsigned char)*v;
            if ((ch < 0x20 && ch != '\t') || ch == 0x7f) return -1;
        }
        h[n].value = q;
        h[n].vlen = (size_t)(ve - q);
        n++;
        p = lf + 1;
    }
    *nh = n;
    return 0;
}

/* Calls back for each comma-separated token of a header value (trimmed, non-empty). */
typedef int (*token_fn)(void *ctx, const char *t, size_t n);
static int each_token(const char *v, size_t n, token_fn fn, void *ctx) {
    size_t i = 0;
    while (i < n) {
        size_t j = i;
        while (j < n && v[j] != ',') j++;
        size_t a = i, b = j;
        while (a < b && (v[a] == ' ' || v[a] == '\t')) a++;
        while (b > a && (v[b - 1] == ' ' || v[b - 1] == '\t')) b--;
        if (b > a && fn(ctx, v + a, b - a) != 0) return -1;
        i = j + 1;
    }
    return 0;
}

static int parse_length(const char *v, size_t n, unsigned long long *out) {
    if (!n || n > 18) return -1;
    unsigned long long x = 0;
    for (size_t i = 0; i < n; i++) {
        if (v[i] < '0' || v[i] > '9') return -1;
        x = x * 10 + (unsigned)(v[i] - '0');
    }
    *out = x;
    return 0;
}

/* ------------------------------------------------------------------------------ requests */

typedef struct {
    int close, keep_alive;
} req_conn_t;

static int req_connection_token(void *ctx, const char *t, size_t n) {
    req_conn_t *rc = ctx;
    if (n == 5 && strncasecmp(t, "close", 5) == 0) rc->close = 1;
    else if (n == 10 && strncasecmp(t, "keep-alive", 10) == 0) rc->keep_alive = 1;
    else return -1; /* other options name fields to drop: the Python engine does that */
    return 0;
}

static group_t *pick_group(engine_t *e, listener_t *l) {
    if (l->nfwd == 1) return find_group(e, l->fwd[0].gid);
    long total = 0;
    for (int i = 0; i < l->nfwd; i++) total += l->fwd[i].weight;
    if (total <= 0) return NULL;
    int best = 0;
    for (int i = 0; i < l->nfwd; i++) {
        l->fwd[i].score += l->fwd[i].weight;
        if (l->fwd[i].score > l->fwd[best].score) best = i;
    }
    l->fwd[best].score -= total;
    return find_group(e, l->fwd[best].gid);
}

static target_t *choose_target(group_t *g) {
    if (!g || g->n == 0) return NULL;
    if (g->algorithm == 1 && g->n > 1) {
        long least = g->t[0]->in_flight;
        int tied = 0;
        for (int i = 0; i < g->n; i++) {
            if (g->t[i]->in_flight < least) least = g->t[i]->in_flight;
        }
        for (int i = 0; i < g->n; i++)
            if (g->t[i]->in_flight == least) tied++;
        unsigned long pick = g->counter++ % (unsigned long)tied;
        for (int i = 0; i < g->n; i++)
            if (g->t[i]->in_flight == least && pick-- == 0) return g->t[i];
    }
    return g->t[g->counter++ % (unsigned long)g->n];
}

static void exchange_attach(client_t *c, upstream_t *up) {
    up->owner = c;
    up->rstate = R_HEAD;
    up->cstate = CH_SIZE;
    up->resp_keep = 0;
    up->left = 0;
    c->up = up;
    upstream_write(up, buf_data(&c->req), buf_avail(&c->req));
    upstream_set_events(up);
}

/* Starts forwarding on a fresh connection (first try or the retry); 502 if none can be made. */
static void exchange_connect(client_t *c) {
    upstream_t *up = upstream_connect(c->eng, c->target);
    if (!up) {
        exchange_fail(c, 502);
        return;
    }
    c->reused = 0;
    c->exchange_start_ms = c->eng->now_ms;
    exchange_attach(c, up);
}

/* Returns 1 when a request was dealt with (state changed), 0 when more bytes are needed, -1
 * when the client is gone (closed or handed off). */
static int request_start(client_t *c) {
    engine_t *e = c->eng;
    const char *d = buf_data(&c->in);
    size_t n = buf_avail(&c->in);
    if (!n) return 0;
    const char *end = n >= 4 ? memmem(d, n, "\r\n\r\n", 4) : NULL;
    if (!end) {
        if (n > MAX_HEAD) goto handoff;
        return 0;
    }
    size_t head_len = (size_t)(end - d) + 4;
    if (head_len > MAX_HEAD || c->lst->mode != MODE_FORWARD) goto handoff;

    const char *line;
    size_t line_len;
    header_t h[MAX_HEADERS];
    int nh = 0;
    if (split_head(d, head_len - 2, 0, &line, &line_len, h, &nh, MAX_HEADERS) != 0) goto handoff;

    /* METHOD SP request-target SP HTTP/1.x */
    const char *sp1 = memchr(line, ' ', line_len);
    if (!sp1 || sp1 == line) goto handoff;
    for (const char *q = line; q < sp1; q++)
        if (!TCHAR[(unsigned char)*q]) goto handoff;
    const char *target = sp1 + 1;
    const char *sp2 = memchr(target, ' ', line_len - (size_t)(target - line));
    if (!sp2 || sp2 == target) goto handoff;
    for (const char *q = target; q < sp2; q++)
        if ((unsigned char)*q <= 0x20 || (unsigned char)*q == 0x7f) goto handoff;
    const char *version = sp2 + 1;
    size_t vlen = line_len - (size_t)(version - line);
    if (vlen != 8 || memcmp(version, "HTTP/1.", 7) != 0 || (version[7] != '0' && version[7] != '1')) goto handoff;
    size_t mlen = (size_t)(sp1 - line);
    if (mlen == 7 && memcmp(line, "CONNECT", 7) == 0) goto handoff;
    int http11 = version[7] == '1';

    unsigned long long length = 0;
    int has_length = 0, hosts = 0;
    req_conn_t rc = {0, 0};
    for (int i = 0; i < nh; i++) {
        header_t *x = &h[i];
        switch (x->nlen) {
        case 4:
            if (name_is(x, "host", 4)) hosts++;
            break;
        case 6:
            if (name_is(x, "expect", 6)) goto handoff;
            break;
        case 7:
            if (name_is(x, "upgrade", 7)) goto handoff;
            break;
        case 10:
            if (name_is(x, "connection", 10) && each_token(x->value, x->vlen, req_connection_token, &rc) != 0)
                goto handoff;
            break;
        case 14:
            if (name_is(x, "content-length", 14)) {
                if (has_length || parse_length(x->value, x->vlen, &length) != 0) goto handoff;
                has_length = 1;
            }
            break;
        case 15:
            if (name_is(x, "x-amzn-trace-id", 15)) goto handoff;
            break;
        case 17:
            if (name_is(x, "transfer-encoding", 17)) goto handoff;
            break;
        }
    }
    if (hosts > 1 || (http11 && hosts == 0) || length > MAX_BODY) goto handoff;

    c->http11 = http11;
    c->keep = (http11 ? !rc.close : (rc.keep_alive && !rc.close)) && !c->lst->closed;
    c->head_req = mlen == 4 && memcmp(line, "HEAD", 4) == 0;

    target_t *t = choose_target(pick_group(e, c->lst));
    if (!t) {
        /* 503: read and drop the body, then carry on (or close) as the client asked */
        put_error(e, &c->out, 503, c->keep, c->head_req);
        buf_eat(&c->in, head_len);
        c->body_left = (size_t)length;
        c->state = c->body_left ? CS_DISCARD : CS_HEAD;
        if (!c->body_left && !c->keep) {
            c->state = CS_CLOSING;
            client_set_reading(c, 0);
        }
        return 1;
    }

    /* The head for the target. */
    buf_t *r = &c->req;
    buf_clear(r);
    buf_reserve(r, head_len + 256 + (size_t)length);
    buf_put(r, line, (size_t)(sp2 - line));
    buf_puts(r, " HTTP/1.1\r\n");
    const char *xff[MAX_HEADERS];
    size_t xff_len[MAX_HEADERS];
    int nxff = 0;
    for (int i = 0; i < nh; i++) {
        header_t *x = &h[i];
        switch (x->nlen) {
        case 2:
            if (name_is(x, "te", 2)) continue;
            break;
        case 7:
            if (name_is(x, "trailer", 7)) continue;
            break;
        case 10:
            if (name_is(x, "connection", 10) || name_is(x, "keep-alive", 10)) continue;
            break;
        case 15:
            if (name_is(x, "x-forwarded-for", 15)) {
                xff[nxff] = x->value;
                xff_len[nxff++] = x->vlen;
                continue;
            }
            break;
        case 16:
            if (name_is(x, "proxy-connection", 16) || name_is(x, "x-forwarded-port", 16)) continue;
            break;
        case 17:
            if (name_is(x, "x-forwarded-proto", 17)) continue;
            break;
        }
        buf_put(r, x->name, x->nlen);
        buf_put(r, ": ", 2);
        buf_put(r, x->value, x->vlen);
        buf_put(r, "\r\n", 2);
    }
    /* as forwarding.py: the client's values joined by ", ", then the client's address */
    buf_puts(r, "X-Forwarded-For: ");
    size_t joined = 0;
    for (int i = 0; i < nxff; i++) {
        if (i) buf_put(r, ", ", 2);
        buf_put(r, xff[i], xff_len[i]);
        joined += (i ? 2 : 0) + xff_len[i];
    }
    if (joined) buf_put(r, ", ", 2);
    buf_puts(r, c->ip);
    uint64_t r1 = next_random(e), r2 = next_random(e);
    buf_printf(r,
               "\r\nX-Forwarded-Proto: http\r\nX-Forwarded-Port: %d\r\n"
               "X-Amzn-Trace-Id: Root=1-%08x-%08x%016llx\r\n\r\n",
               c->lst->port, (unsigned)((uint64_t)time(NULL) & 0xffffffffu), (unsigned)(r1 >> 32),
               (unsigned long long)r2);
    size_t body_now = n - head_len < length ? n - head_len : (size_t)length;
    buf_put(r, d + head_len, body_now);
    buf_eat(&c->in, head_len + body_now);
    c->body_left = (size_t)length - body_now;

    t->in_flight++;
    t->requests++;
    c->target = t;
    c->state = CS_EXCHANGE;
    c->got_bytes = c->retried = c->resp_started = 0;
    c->keep_client = c->keep;
    c->chunk_client = 0;
    c->exchange_start_ms = e->now_ms;
    upstream_t *up = pool_take(e, t);
    if (up) {
        c->reused = 1;
        exchange_attach(c, up);
    } else {
        exchange_connect(c);
    }
    return c->kind == K_DEAD ? -1 : 1;

handoff:
    if (buf_avail(&c->out)) {
        /* our previous answer is still on its way: hand off once it is out */
        c->want_handoff = 1;
        client_set_reading(c, 0);
        return -1;
    }
    client_handoff(c);
    return -1;
}

static void client_process(client_t *c) {
    for (;;) {
        if (c->kind == K_DEAD || c->want_handoff) return;
        size_t n = buf_avail(&c->in);
        switch (c->state) {
        case CS_HEAD:
            if (c->eof && !n) {
                c->state = CS_CLOSING; /* everything the client sent is answered */
                return;
            }
            if (c->eof && request_start(c) == 0) {
                client_handoff(c); /* a partial head and no more to come: Python answers it */
                return;
            }
            if (!c->eof && request_start(c) <= 0) return;
            continue;
        case CS_EXCHANGE:
            if (c->body_left && n) {
                size_t m = n < c->body_left ? n : c->body_left;
                buf_put(&c->req, buf_data(&c->in), m);
                if (c->up) upstream_write(c->up, buf_data(&c->in), m);
                buf_eat(&c->in, m);
                c->body_left -= m;
            }
            if (buf_avail(&c->in) > PIPELINE_LIMIT) client_set_reading(c, 0);
            return;
        case CS_DISCARD: {
            size_t m = n < c->body_left ? n : c->body_left;
            buf_eat(&c->in, m);
            c->body_left -= m;
            if (c->body_left) return;
            if (c->keep && !c->lst->closed) {
                c->state = CS_HEAD;
                continue;
            }
            c->state = CS_CLOSING;
            client_set_reading(c, 0);
            return;
        }
        case CS_CLOSING:
            buf_clear(&c->in);
            return;
        }
    }
}

static void client_read(client_t *c) {
    buf_reserve(&c->in, READ_SIZE);
    ssize_t n = recv(c->fd, c->in.p + c->in.len, c->in.cap - c->in.len, 0);
    if (n > 0) {
        c->in.len += (size_t)n;
        c->last_ms = c->eng->now_ms;
        client_process(c);
        return;
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) return;
    if (n == 0 && (c->state == CS_EXCHANGE ? c->body_left == 0 : c->state == CS_HEAD) && !c->want_handoff) {
        /* a half-close after whole requests: they are still answered, then the connection closes */
        c->eof = 1;
        client_set_reading(c, 0);
        client_process(c);
        return;
    }
    /* the client closed (or reset) mid-request: whatever was in progress is dropped */
    client_close(c);
}

/* ------------------------------------------------------------------------------ responses */

typedef struct {
    int close, keep_alive, n;
    const char *names[MAX_DROP_NAMES];
    size_t lens[MAX_DROP_NAMES];
} resp_conn_t;

static int resp_connection_token(void *ctx, const char *t, size_t n) {
    resp_conn_t *rc = ctx;
    if (n == 5 && strncasecmp(t, "close", 5) == 0) rc->close = 1;
    else if (n == 10 && strncasecmp(t, "keep-alive", 10) == 0) rc->keep_alive = 1;
    else if (rc->n < MAX_DROP_NAMES) {
        rc->names[rc->n] = t;
        rc->lens[rc->n++] = n;
    } else return -1;
    return 0;
}

typedef struct {
    const char *t;
    size_t n;
} last_token_t;

static int remember_last_token(void *ctx, const char *t, size_t n) {
    last_token_t *last = ctx;
    last->t = t;
    last->n = n;
    return 0;
}

static int is_hop_by_hop(const header_t *x, const resp_conn_t *rc) {
    switch (x->nlen) {
    case 2:
        if (name_is(x, "te", 2)) return 1;
        break;
    case 7:
        if (name_is(x, "trailer", 7) || name_is(x, "upgrade", 7)) return 1;
        break;
    case 10:
        if (name_is(x, "connection", 10) || name_is(x, "keep-alive", 10)) return 1;
        break;
    case 16:
        if (name_is(x, "proxy-connection", 16)) return 1;
        break;
    case 17:
        if (name_is(x, "transfer-encoding", 17)) return 1;
        break;
    }
    for (int i = 0; i < rc->n; i++)
        if (x->nlen == rc->lens[i] && strncasecmp(x->name, rc->names[i], x->nlen) == 0) return 1;
    return 0;
}

static void put_chunk(buf_t *out, const char *d, size_t n) {
    if (!n) return;
    buf_printf(out, "%zx\r\n", n);
    buf_put(out, d, n);
    buf_put(out, "\r\n", 2);
}

/* Where the empty line ending a response head (or trailer section) is, lines ending in CRLF or
 * a bare LF: after a LF, a CRLF or a LF. Returns 1 and sets *lines_len (the bytes before the
 * empty line) and *section_len (with it), or 0 when it has not arrived yet. */
static int find_section_end(const char *d, size_t n, size_t *lines_len, size_t *section_len) {
    const char *p = d, *end = d + n;
    while (p < end) {
        const char *lf = memchr(p, '\n', (size_t)(end - p));
        if (!lf || lf + 1 == end) return 0;
        const char *q = lf + 1;
        if (*q == '\n') {
            *lines_len = (size_t)(q - d);
            *section_len = (size_t)(q - d) + 1;
            return 1;
        }
        if (*q == '\r' && q + 1 < end && q[1] == '\n') {
            *lines_len = (size_t)(q - d);
            *section_len = (size_t)(q - d) + 2;
            return 1;
        }
        p = q;
    }
    return 0;
}

/* Parses a response head at the front of up->in. Returns 1 when a final head was handled,
 * 0 when more bytes are needed (or an interim one was passed on), -1 on garbage. Its lines
 * may end in a bare LF; what goes to the client always has CRLF. */
static int response_head(upstream_t *up, client_t *c) {
    const char *d = buf_data(&up->in);
    size_t n = buf_avail(&up->in);
    size_t lines_len, head_len;
    if (!find_section_end(d, n, &lines_len, &head_len)) return n > MAX_RESPONSE_HEAD ? -1 : 0;
    const char *line;
    size_t line_len;
    header_t *h = up->eng->resp_headers;
    int nh = 0;
    if (split_head(d, lines_len, 1, &line, &line_len, h, &nh, MAX_RESPONSE_HEADERS) != 0) return -1;
    if (line_len < 12 || memcmp(line, "HTTP/1.", 7) != 0 || (line[7] != '0' && line[7] != '1') || line[8] != ' ')
        return -1;
    int status = 0;
    for (int i = 9; i < 12; i++) {
        if (line[i] < '0' || line[i] > '9') return -1;
        status = status * 10 + (line[i] - '0');
    }
    if (status < 100 || (line_len > 12 && line[12] != ' ')) return -1;
    const char *reason = line_len > 13 ? line + 13 : "";
    size_t reason_len = line_len > 13 ? line_len - 13 : 0;
    int http11 = line[7] == '1';

    resp_conn_t rc;
    memset(&rc, 0, sizeof rc);
    int chunked = 0, has_length = 0;
    unsigned long long length = 0;
    for (int i = 0; i < nh; i++) {
        header_t *x = &h[i];
        if (name_is(x, "connection", 10)) {
            if (each_token(x->value, x->vlen, resp_connection_token, &rc) != 0) return -1;
        } else if (name_is(x, "content-length", 14)) {
            unsigned long long v;
            if (parse_length(x->value, x->vlen, &v) != 0 || (has_length && v != length)) return -1;
            length = v;
            has_length = 1;
        } else if (name_is(x, "transfer-encoding", 17)) {
            last_token_t last = {NULL, 0};
            each_token(x->value, x->vlen, remember_last_token, &last);
            if (last.t) chunked = last.n == 7 && strncasecmp(last.t, "chunked", 7) == 0 ? 1 : -1;
        }
    }
    buf_t *out = &c->out;
    if (status < 200) {
        /* interim: passed on as it came, less hop-by-hop fields */
        buf_printf(out, "HTTP/1.1 %d %.*s\r\n", status, (int)reason_len, reason);
        for (int i = 0; i < nh; i++) {
            if (is_hop_by_hop(&h[i], &rc)) continue;
            buf_put(out, h[i].name, h[i].nlen);
            buf_put(out, ": ", 2);
            buf_put(out, h[i].value, h[i].vlen);
            buf_put(out, "\r\n", 2);
        }
        buf_put(out, "\r\n", 2);
        buf_eat(&up->in, head_len);
        return 0;
    }
    int framing; /* R_HEAD here means "no body" */
    if (c->head_req || status == 204 || status == 304) framing = R_HEAD;
    else if (chunked == 1) framing = R_CHUNKED;
    else if (chunked == -1 || !has_length) framing = R_CLOSE;
    else framing = R_LENGTH;
    up->resp_keep = (http11 ? !rc.close : (rc.keep_alive && !rc.close)) && framing != R_CLOSE;
    int client_chunked = 0;
    if (framing == R_CHUNKED || framing == R_CLOSE) {
        if (c->http11) client_chunked = 1;
        else c->keep_client = 0;
    }
    c->chunk_client = client_chunked;
    c->resp_started = 1;

    buf_printf(out, "HTTP/1.1 %d %.*s\r\n", status, (int)reason_len, reason);
    for (int i = 0; i < nh; i++) {
        if (is_hop_by_hop(&h[i], &rc)) continue;
        if ((framing == R_CHUNKED || client_chunked) && name_is(&h[i], "content-length", 14)) continue;
        buf_put(out, h[i].name, h[i].nlen);
        buf_put(out, ": ", 2);
        buf_put(out, h[i].value, h[i].vlen);
        buf_put(out, "\r\n", 2);
    }
    if (client_chunked) buf_puts(out, "Transfer-Encoding: chunked\r\n");
    if (!c->keep_client) buf_puts(out, "Connection: close\r\n");
    else if (!c->http11) buf_puts(out, "Connection: keep-alive\r\n");
    buf_put(out, "\r\n", 2);
    buf_eat(&up->in, head_len);
    up->left = length;
    up->rstate = framing == R_HEAD ? R_LENGTH : framing;
    if (framing == R_HEAD) up->left = 0;
    up->cstate = CH_SIZE;
    return 1;
}

/* 1: the response is complete; 0: more bytes needed; -1: the body is garbage. */
static int response_chunks(upstream_t *up, client_t *c) {
    buf_t *out = &c->out;
    for (;;) {
        const char *d = buf_data(&up->in);
        size_t n = buf_avail(&up->in);
        switch (up->cstate) {
        case CH_SIZE: {
            /* the line ends in CRLF or a bare LF; nl: where its content ends */
            const char *lf = memchr(d, '\n', n);
            if (!lf) return n > 4096 ? -1 : 0;
            const char *nl = lf > d && lf[-1] == '\r' ? lf - 1 : lf;
            if (memchr(d, '\r', (size_t)(nl - d))) return -1;
            unsigned long long size = 0;
            const char *q = d;
            int digits = 0;
            for (; q < nl; q++) {
                int v;
                if (*q >= '0' && *q <= '9') v = *q - '0';
                else if (*q >= 'a' && *q <= 'f') v = *q - 'a' + 10;
                else if (*q >= 'A' && *q <= 'F') v = *q - 'A' + 10;
                else break;
                if (++digits > 15) return -1;
                size = size * 16 + (unsigned)v;
            }
            if (!digits || (q < nl && *q != ';' && *q != ' ' && *q != '\t')) return -1;
            buf_eat(&up->in, (size_t)(lf - d) + 1);
            if (size == 0) {
                up->cstate = CH_TRAILER;
                if (c->chunk_client) buf_put(out, "0\r\n", 3);
            } else {
                up->left = size;
                up->cstate = CH_DATA;
            }
            continue;
        }
        case CH_DATA: {
            if (!n) return 0;
            size_t m = n < up->left ? n : (size_t)up->left;
            if (c->chunk_client) put_chunk(out, d, m);
            else buf_put(out, d, m);
            buf_eat(&up->in, m);
            up->left -= m;
            if (!up->left) up->cstate = CH_DATA_CRLF;
            continue;
        }
        case CH_DATA_CRLF: /* CRLF, or a bare LF */
            if (!n) return 0;
            if (d[0] == '\n') {
                buf_eat(&up->in, 1);
            } else {
                if (n < 2) return 0;
                if (d[0] != '\r' || d[1] != '\n') return -1;
                buf_eat(&up->in, 2);
            }
            up->cstate = CH_SIZE;
            continue;
        case CH_TRAILER: {
            /* one trailer line (CRLF or a bare LF), passed on with CRLF; an empty one ends them */
            const char *lf = memchr(d, '\n', n);
            if (!lf) return n > MAX_RESPONSE_HEAD ? -1 : 0;
            size_t len = (size_t)(lf - d);
            if (len && d[len - 1] == '\r') len--;
            for (size_t i = 0; i < len; i++) {
                unsigned char ch = (unsigned char)d[i];
                if ((ch < 0x20 && ch != '\t') || ch == 0x7f) return -1;
            }
            if (c->chunk_client) {
                buf_put(out, d, len);
                buf_put(out, "\r\n", 2);
            }
            buf_eat(&up->in, (size_t)(lf - d) + 1);
            if (len == 0) return 1;
            continue;
        }
        }
    }
}

static void response_process(upstream_t *up) {
    client_t *c = up->owner;
    for (;;) {
        if (!c || c->kind == K_DEAD || up->owner != c) return;
        size_t n = buf_avail(&up->in);
        switch (up->rstate) {
        case R_HEAD: {
            int r = response_head(up, c);
            if (r < 0) {
                if (c->resp_started) exchange_cut(c);
                else exchange_fail(c, 502);
                return;
            }
            if (r == 0) {
                if (buf_avail(&up->in) && buf_avail(&up->in) < n) continue; /* an interim head went by */
                return;
            }
            if (up->rstate == R_LENGTH && up->left == 0) {
                response_complete(c, up);
                return;
            }
            continue;
        }
        case R_LENGTH: {
            if (!n) return;
            size_t m = n < up->left ? n : (size_t)up->left;
            buf_put(&c->out, buf_data(&up->in), m);
            buf_eat(&up->in, m);
            up->left -= m;
            if (!up->left) response_complete(c, up);
            return;
        }
        case R_CHUNKED: {
            int r = response_chunks(up, c);
            if (r < 0) exchange_cut(c);
            else if (r > 0) response_complete(c, up);
            return;
        }
        case R_CLOSE:
            if (!n) return;
            if (c->chunk_client) put_chunk(&c->out, buf_data(&up->in), n);
            else buf_put(&c->out, buf_data(&up->in), n);
            buf_eat(&up->in, n);
            return;
        }
    }
}

/* The upstream connection ended (EOF, reset or failed connect). */
static void upstream_lost(upstream_t *up, int clean) {
    client_t *c = up->owner;
    if (!c) {
        upstream_close(up);
        return;
    }
    if (up->rstate == R_CLOSE && c->resp_started && clean) {
        /* a body delimited by the close: complete */
        if (c->chunk_client) buf_puts(&c->out, "0\r\n\r\n");
        up->resp_keep = 0;
        upstream_close(up);
        response_complete(c, up);
        client_resume(c);
        return;
    }
    upstream_close(up);
    c->up = NULL;
    if (c->resp_started) {
        exchange_cut(c);
        return;
    }
    if (c->reused && !c->got_bytes && !c->retried) {
        /* the target closed an idle keep-alive connection as we reused it: once more, anew */
        c->retried = 1;
        exchange_connect(c);
    } else {
        exchange_fail(c, 502);
    }
    client_resume(c);
}

static void upstream_read(upstream_t *up) {
    buf_reserve(&up->in, READ_SIZE);
    ssize_t n = recv(up->fd, up->in.p + up->in.len, up->in.cap - up->in.len, 0);
    if (n > 0) {
        up->in.len += (size_t)n;
        client_t *c = up->owner;
        if (!c) {
            upstream_close(up); /* a pooled connection must stay silent */
            return;
        }
        c->got_bytes = 1;
        c->last_ms = up->eng->now_ms;
        response_process(up);
        client_resume(c);
        return;
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) return;
    upstream_lost(up, n == 0);
}

static void upstream_event(upstream_t *up, uint32_t ev) {
    if (up->connecting) {
        if (!(ev & (EPOLLOUT | EPOLLERR | EPOLLHUP))) return;
        int err = 0;
        socklen_t len = sizeof err;
        if (getsockopt(up->fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err != 0) {
            upstream_lost(up, 0);
            return;
        }
        up->connecting = 0;
        upstream_flush(up);
        return;
    }
    if (ev & EPOLLOUT) upstream_flush(up);
    if (up->kind != K_DEAD && (ev & (EPOLLIN | EPOLLHUP | EPOLLERR))) upstream_read(up);
}

static void client_event(client_t *c, uint32_t ev) {
    if (ev & EPOLLOUT) client_flush(c);
    if (c->kind != K_DEAD && (ev & (EPOLLIN | EPOLLHUP | EPOLLERR))) {
        if (!(c->events & EPOLLIN) && !(ev & (EPOLLHUP | EPOLLERR))) return;
        client_read(c);
        if (c->kind != K_DEAD) client_flush(c);
    }
}

static void listener_accept(engine_t *e, listener_t *l) {
    for (int i = 0; i < 64 && !l->closed; i++) {
        struct sockaddr_in peer;
        socklen_t plen = sizeof peer;
        int fd = accept4(l->fd, (struct sockaddr *)&peer, &plen, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
                /* out of descriptors: stop accepting for a while rather than spin */
                struct epoll_event ev = {.events = 0, .data.ptr = l};
                epoll_ctl(e->ep, EPOLL_CTL_MOD, l->fd, &ev);
                l->paused_until_ms = e->now_ms + ACCEPT_PAUSE_MS;
            }
            return;
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        client_t *c = calloc(1, sizeof *c);
        if (!c) abort();
        c->kind = K_CLIENT;
        c->fd = fd;
        c->eng = e;
        c->lst = l;
        c->state = CS_HEAD;
        c->last_ms = e->now_ms;
        if (!inet_ntop(AF_INET, &peer.sin_addr, c->ip, sizeof c->ip)) strcpy(c->ip, "127.0.0.1");
        l->nconns++;
        c->next = e->clients;
        if (e->clients) e->clients->prev = c;
        e->clients = c;
        if (l->mode != MODE_FORWARD) {
            client_handoff(c);
            continue;
        }
        if (ep_add(e, c, fd, &c->events, EPOLLIN) != 0) client_close(c);
    }
}

/* ------------------------------------------------------------------------------ housekeeping */

static void sweep(engine_t *e) {
    long long now = e->now_ms;
    client_t *next;
    for (client_t *c = e->clients; c; c = next) {
        next = c->next;
        long long idle = now - c->last_ms;
        long limit = c->lst->idle_ms;
        if (c->state == CS_EXCHANGE) {
            int connect_slow = c->up && c->up->connecting && now - c->exchange_start_ms >= CONNECT_TIMEOUT_MS;
            if (idle >= limit || connect_slow) {
                if (c->resp_started) exchange_cut(c);
                else {
                    exchange_fail(c, 504);
                    client_resume(c);
                }
            }
        } else if (idle >= limit) {
            if (buf_avail(&c->out) && c->state != CS_CLOSING) {
                /* as the Python proxy's idle close: what is buffered is still delivered */
                c->state = CS_CLOSING;
                client_set_reading(c, 0);
                c->last_ms = now;
            } else if (!buf_avail(&c->out)) {
                client_close(c);
            }
        } else if (c->lst->closed && c->state == CS_HEAD && !buf_avail(&c->in) && !buf_avail(&c->out)) {
            client_close(c);
        }
    }
    for (listener_t *l = e->listeners; l; l = l->next) {
        if (l->paused_until_ms && now >= l->paused_until_ms && !l->closed && l->fd >= 0) {
            struct epoll_event ev = {.events = EPOLLIN, .data.ptr = l};
            epoll_ctl(e->ep, EPOLL_CTL_MOD, l->fd, &ev);
            l->paused_until_ms = 0;
        }
    }
    if (now - e->last_pool_sweep_ms >= POOL_SWEEP_MS) {
        e->last_pool_sweep_ms = now;
        for (int i = 0; i < HASH_SIZE; i++)
            for (target_t *t = e->targets[i]; t; t = t->hnext) {
                upstream_t *up = t->idle, *nx;
                for (; up; up = nx) {
                    nx = up->next_idle;
                    if (now - up->idle_since_ms >= UP_IDLE_MS) upstream_close(up);
                }
            }
    }
}

static void free_dead(engine_t *e) {
    while (e->dead_clients) {
        client_t *c = e->dead_clients;
        e->dead_clients = c->gnext;
        buf_free(&c->in);
        buf_free(&c->out);
        buf_free(&c->req);
        free(c);
    }
    while (e->dead_upstreams) {
        upstream_t *up = e->dead_upstreams;
        e->dead_upstreams = up->gnext;
        buf_free(&up->in);
        buf_free(&up->out);
        free(up);
    }
    /* dropped targets go once nothing refers to them */
    target_t **pp = &e->dropped;
    while (*pp) {
        target_t *t = *pp;
        while (t->idle) upstream_close(t->idle);
        if (t->in_flight == 0) {
            int used = 0;
            for (client_t *c = e->clients; c && !used; c = c->next) used = c->target == t;
            if (!used) {
                *pp = t->dnext;
                free(t);
                continue;
            }
        }
        pp = &t->dnext;
    }
    listener_t **lp = &e->listeners;
    while (*lp) {
        listener_t *l = *lp;
        if (l->closed && l->nconns == 0) {
            *lp = l->next;
            free(l->fwd);
            free(l);
            continue;
        }
        lp = &l->next;
    }
}

static void teardown(engine_t *e) {
    while (e->clients) client_close(e->clients);
    for (int i = 0; i < HASH_SIZE; i++)
        for (target_t *t = e->targets[i]; t; t = t->hnext)
            while (t->idle) upstream_close(t->idle);
    for (listener_t *l = e->listeners; l; l = l->next) {
        if (l->fd >= 0) {
            epoll_ctl(e->ep, EPOLL_CTL_DEL, l->fd, NULL);
            close(l->fd);
            l->fd = -1;
        }
        l->closed = 1;
    }
    free_dead(e);
}

/* ------------------------------------------------------------------------------ Python API */

#define LOCK(e)                                                                                                        \
    do {                                                                                                               \
        Py_BEGIN_ALLOW_THREADS pthread_mutex_lock(&(e)->lock);                                                         \
        Py_END_ALLOW_THREADS                                                                                           \
    } while (0)
#define UNLOCK(e) pthread_mutex_unlock(&(e)->lock)

static void wake(engine_t *e) {
    uint64_t one = 1;
    ssize_t ignored = write(e->wake, &one, sizeof one);
    (void)ignored;
}

static PyObject *engine_new(PyTypeObject *type, PyObject *args, PyObject *kwds) {
    (void)args;
    (void)kwds;
    engine_t *e = (engine_t *)type->tp_alloc(type, 0);
    if (!e) return NULL;
    e->ep = epoll_create1(EPOLL_CLOEXEC);
    e->wake = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (e->ep < 0 || e->wake < 0) {
        if (e->ep >= 0) close(e->ep);
        if (e->wake >= 0) close(e->wake);
        e->ep = e->wake = -1;
        Py_DECREF(e);
        return PyErr_SetFromErrno(PyExc_OSError);
    }
    e->resp_headers = calloc(MAX_RESPONSE_HEADERS, sizeof(header_t));
    if (!e->resp_headers) {
        close(e->ep);
        close(e->wake);
        e->ep = e->wake = -1;
        Py_DECREF(e);
        return PyErr_NoMemory();
    }
    pthread_mutex_init(&e->lock, NULL);
    e->wake_kind = K_WAKE;
    struct epoll_event ev;
    ev.events = EPOLLIN;
    ev.data.ptr = &e->wake_kind;
    epoll_ctl(e->ep, EPOLL_CTL_ADD, e->wake, &ev);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    e->rng = ((uint64_t)ts.tv_nsec << 20) ^ (uint64_t)ts.tv_sec ^ ((uint64_t)getpid() << 40) ^ 0x9e3779b97f4a7c15ULL;
    e->now_ms = monotonic_ms();
    return (PyObject *)e;
}

static void engine_dealloc(engine_t *e) {
    if (!e->running) {
        teardown(e);
        for (int i = 0; i < HASH_SIZE; i++) {
            while (e->targets[i]) {
                target_t *t = e->targets[i];
                e->targets[i] = t->hnext;
                free(t);
            }
            while (e->groups[i]) {
                group_t *g = e->groups[i];
                e->groups[i] = g->hnext;
                free(g->t);
                free(g);
            }
        }
        while (e->dropped) {
            target_t *t = e->dropped;
            e->dropped = t->dnext;
            free(t);
        }
        for (size_t i = 0; i < e->nho; i++) {
            close(e->ho[i].fd);
            free(e->ho[i].data);
        }
        free(e->ho);
        if (e->ep >= 0) close(e->ep);
        if (e->wake >= 0) close(e->wake);
        free(e->resp_headers);
        pthread_mutex_destroy(&e->lock);
    }
    Py_TYPE(e)->tp_free((PyObject *)e);
}

static void deliver_handoffs(handoff_t *list, size_t n, PyObject *callback) {
    for (size_t i = 0; i < n; i++) {
        handoff_t *h = &list[i];
        PyObject *r = PyObject_CallFunction(callback, "liy#", h->lid, h->fd, h->data ? h->data : "", (Py_ssize_t)h->len);
        if (!r) {
            PyErr_WriteUnraisable(callback);
            close(h->fd);
        } else {
            Py_DECREF(r);
        }
        free(h->data);
    }
}

static PyObject *engine_run(engine_t *e, PyObject *callback) {
    if (!PyCallable_Check(callback)) {
        PyErr_SetString(PyExc_TypeError, "run() needs the hand-off callback");
        return NULL;
    }
    if (e->running) {
        PyErr_SetString(PyExc_RuntimeError, "already running");
        return NULL;
    }
    e->running = 1;
    Py_INCREF(callback);
    struct epoll_event evs[MAX_EVENTS];
    handoff_t *ready = NULL;
    size_t ready_cap = 0;
    long long last_sweep = 0;
    PyThreadState *ts = PyEval_SaveThread();
    while (!e->stopping) {
        int n = epoll_wait(e->ep, evs, MAX_EVENTS, SWEEP_MS);
        pthread_mutex_lock(&e->lock);
        e->now_ms = monotonic_ms();
        for (int i = 0; i < n; i++) {
            int kind = *(int *)evs[i].data.ptr;
            switch (kind) {
            case K_WAKE: {
                uint64_t v;
                ssize_t ignored = read(e->wake, &v, sizeof v);
                (void)ignored;
                break;
            }
            case K_LISTENER: {
                listener_t *l = evs[i].data.ptr;
                if (!l->closed) listener_accept(e, l);
                break;
            }
            case K_CLIENT: client_event(evs[i].data.ptr, evs[i].events); break;
            case K_UPSTREAM: upstream_event(evs[i].data.ptr, evs[i].events); break;
            default: break;
            }
        }
        if (e->now_ms - last_sweep >= SWEEP_MS || e->listeners_dirty) {
            e->listeners_dirty = 0;
            last_sweep = e->now_ms;
            sweep(e);
        }
        free_dead(e);
        size_t nho = e->nho;
        if (nho) {
            if (ready_cap < nho) {
                ready_cap = nho;
                ready = realloc(ready, ready_cap * sizeof *ready);
                if (!ready) abort();
            }
            memcpy(ready, e->ho, nho * sizeof *ready);
            e->nho = 0;
        }
        pthread_mutex_unlock(&e->lock);
        if (nho) {
            PyEval_RestoreThread(ts);
            deliver_handoffs(ready, nho, callback);
            ts = PyEval_SaveThread();
        }
    }
    pthread_mutex_lock(&e->lock);
    teardown(e);
    pthread_mutex_unlock(&e->lock);
    PyEval_RestoreThread(ts);
    free(ready);
    Py_DECREF(callback);
    e->running = 0;
    Py_RETURN_NONE;
}

static PyObject *engine_stop(engine_t *e, PyObject *unused) {
    (void)unused;
    e->stopping = 1;
    wake(e);
    Py_RETURN_NONE;
}

static PyObject *engine_add_listener(engine_t *e, PyObject *args) {
    long id, idle_ms;
    int fd, port;
    if (!PyArg_ParseTuple(args, "liil", &id, &fd, &port, &idle_ms)) return NULL;
    listener_t *l = calloc(1, sizeof *l);
    if (!l) return PyErr_NoMemory();
    l->kind = K_LISTENER;
    l->fd = fd;
    l->id = id;
    l->port = port;
    l->idle_ms = idle_ms > 0 ? idle_ms : 60000;
    l->mode = MODE_HANDOFF;
    LOCK(e);
    uint32_t events = 0;
    if (ep_add(e, l, fd, &events, EPOLLIN) != 0) {
        UNLOCK(e);
        close(fd);
        free(l);
        return PyErr_SetFromErrno(PyExc_OSError);
    }
    l->next = e->listeners;
    e->listeners = l;
    UNLOCK(e);
    Py_RETURN_NONE;
}

/* configure_listener(id, idle_ms, forwards): forwards is None (hand every connection to
 * Python) or a list of (group id, weight). */
static PyObject *engine_configure_listener(engine_t *e, PyObject *args) {
    long id, idle_ms;
    PyObject *forwards;
    if (!PyArg_ParseTuple(args, "llO", &id, &idle_ms, &forwards)) return NULL;
    forward_t *fwd = NULL;
    Py_ssize_t nfwd = 0;
    if (forwards != Py_None) {
        PyObject *seq = PySequence_Fast(forwards, "forwards must be a sequence");
        if (!seq) return NULL;
        nfwd = PySequence_Fast_GET_SIZE(seq);
        fwd = calloc((size_t)(nfwd ? nfwd : 1), sizeof *fwd);
        if (!fwd) {
            Py_DECREF(seq);
            return PyErr_NoMemory();
        }
        for (Py_ssize_t i = 0; i < nfwd; i++) {
            if (!PyArg_ParseTuple(PySequence_Fast_GET_ITEM(seq, i), "ll", &fwd[i].gid, &fwd[i].weight)) {
                Py_DECREF(seq);
                free(fwd);
                return NULL;
            }
        }
        Py_DECREF(seq);
    }
    LOCK(e);
    listener_t *l = find_listener(e, id);
    if (l) {
        l->idle_ms = idle_ms > 0 ? idle_ms : 60000;
        int same = forwards != Py_None && l->mode == MODE_FORWARD && l->nfwd == nfwd;
        for (Py_ssize_t i = 0; same && i < nfwd; i++)
            same = l->fwd[i].gid == fwd[i].gid && l->fwd[i].weight == fwd[i].weight;
        if (!same) {
            free(l->fwd);
            l->fwd = fwd;
            l->nfwd = (int)nfwd;
            l->mode = forwards == Py_None ? MODE_HANDOFF : MODE_FORWARD;
            fwd = NULL;
        }
    }
    UNLOCK(e);
    free(fwd);
    if (!l) {
        PyErr_SetString(PyExc_KeyError, "no such listener");
        return NULL;
    }
    Py_RETURN_NONE;
}

static PyObject *engine_close_listener(engine_t *e, PyObject *args) {
    long id;
    if (!PyArg_ParseTuple(args, "l", &id)) return NULL;
    LOCK(e);
    listener_t *l = find_listener(e, id);
    if (l) {
        l->closed = 1;
        if (l->fd >= 0) {
            epoll_ctl(e->ep, EPOLL_CTL_DEL, l->fd, NULL);
            close(l->fd);
            l->fd = -1;
        }
        e->listeners_dirty = 1;
    }
    UNLOCK(e);
    wake(e);
    Py_RETURN_NONE;
}

static PyObject *engine_set_target(engine_t *e, PyObject *args) {
    long id;
    const char *host;
    int port;
    if (!PyArg_ParseTuple(args, "lsi", &id, &host, &port)) return NULL;
    struct sockaddr_in addr;
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_port = htons((uint16_t)port);
    if (inet_pton(AF_INET, host, &addr.sin_addr) != 1) {
        PyErr_Format(PyExc_ValueError, "not an IPv4 address: %s", host);
        return NULL;
    }
    LOCK(e);
    target_t *t = find_target(e, id);
    if (!t) {
        t = calloc(1, sizeof *t);
        if (!t) {
            UNLOCK(e);
            return PyErr_NoMemory();
        }
        t->id = id;
        t->addr = addr;
        unsigned hb = hash_id(id);
        t->hnext = e->targets[hb];
        e->targets[hb] = t;
    }
    UNLOCK(e);
    Py_RETURN_NONE;
}

/* drop_target(id) -> requests counted for it (it must be in no group any more). */
static PyObject *engine_drop_target(engine_t *e, PyObject *args) {
    long id;
    if (!PyArg_ParseTuple(args, "l", &id)) return NULL;
    long long requests = 0;
    LOCK(e);
    target_t **pp = &e->targets[hash_id(id)];
    while (*pp && (*pp)->id != id) pp = &(*pp)->hnext;
    if (*pp) {
        target_t *t = *pp;
        *pp = t->hnext;
        t->dropped = 1;
        requests = t->requests;
        for (int i = 0; i < HASH_SIZE; i++)
            for (group_t *g = e->groups[i]; g; g = g->hnext) {
                int k = 0;
                for (int j = 0; j < g->n; j++)
                    if (g->t[j] != t) g->t[k++] = g->t[j];
                g->n = k;
            }
        t->dnext = e->dropped;
        e->dropped = t;
    }
    UNLOCK(e);
    wake(e);
    return PyLong_FromLongLong(requests);
}

static PyObject *engine_set_group(engine_t *e, PyObject *args) {
    long id;
    int algorithm;
    PyObject *ids;
    if (!PyArg_ParseTuple(args, "liO", &id, &algorithm, &ids)) return NULL;
    PyObject *seq = PySequence_Fast(ids, "target ids must be a sequence");
    if (!seq) return NULL;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
    long *tids = malloc(sizeof(long) * (size_t)(n ? n : 1));
    if (!tids) {
        Py_DECREF(seq);
        return PyErr_NoMemory();
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        tids[i] = PyLong_AsLong(PySequence_Fast_GET_ITEM(seq, i));
        if (tids[i] == -1 && PyErr_Occurred()) {
            Py_DECREF(seq);
            free(tids);
            return NULL;
        }
    }
    Py_DECREF(seq);
    target_t **list = calloc((size_t)(n ? n : 1), sizeof *list);
    if (!list) {
        free(tids);
        return PyErr_NoMemory();
    }
    LOCK(e);
    int count = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        target_t *t = find_target(e, tids[i]);
        if (t) list[count++] = t;
    }
    group_t *g = find_group(e, id);
    if (!g) {
        g = calloc(1, sizeof *g);
        if (!g) {
            UNLOCK(e);
            free(list);
            free(tids);
            return PyErr_NoMemory();
        }
        g->id = id;
        unsigned hb = hash_id(id);
        g->hnext = e->groups[hb];
        e->groups[hb] = g;
    }
    free(g->t);
    g->t = list;
    g->n = count;
    g->algorithm = algorithm;
    UNLOCK(e);
    free(tids);
    if (count != n) {
        PyErr_SetString(PyExc_KeyError, "unknown target id in group");
        return NULL;
    }
    Py_RETURN_NONE;
}

static PyObject *engine_drop_group(engine_t *e, PyObject *args) {
    long id;
    if (!PyArg_ParseTuple(args, "l", &id)) return NULL;
    LOCK(e);
    group_t **pp = &e->groups[hash_id(id)];
    while (*pp && (*pp)->id != id) pp = &(*pp)->hnext;
    if (*pp) {
        group_t *g = *pp;
        *pp = g->hnext;
        free(g->t);
        free(g);
    }
    UNLOCK(e);
    Py_RETURN_NONE;
}

/* counters() -> [(target id, in flight, requests)] for every live target. */
static PyObject *engine_counters(engine_t *e, PyObject *unused) {
    (void)unused;
    PyObject *list = PyList_New(0);
    if (!list) return NULL;
    LOCK(e);
    for (int i = 0; i < HASH_SIZE; i++) {
        for (target_t *t = e->targets[i]; t; t = t->hnext) {
            if (!t->in_flight && !t->requests) continue;
            PyObject *item = Py_BuildValue("(llL)", t->id, t->in_flight, t->requests);
            if (!item || PyList_Append(list, item) != 0) {
                Py_XDECREF(item);
                UNLOCK(e);
                Py_DECREF(list);
                return NULL;
            }
            Py_DECREF(item);
        }
    }
    UNLOCK(e);
    return list;
}

static PyMethodDef engine_methods[] = {
    {"run", (PyCFunction)engine_run, METH_O, "Serve until stop(); hand-offs call the callback(lid, fd, data)."},
    {"stop", (PyCFunction)engine_stop, METH_NOARGS, "Ask run() to return (it closes everything first)."},
    {"add_listener", (PyCFunction)engine_add_listener, METH_VARARGS, "add_listener(id, fd, port, idle_ms)"},
    {"configure_listener", (PyCFunction)engine_configure_listener, METH_VARARGS,
     "configure_listener(id, idle_ms, forwards or None)"},
    {"close_listener", (PyCFunction)engine_close_listener, METH_VARARGS, "close_listener(id)"},
    {"set_target", (PyCFunction)engine_set_target, METH_VARARGS, "set_target(id, ipv4, port)"},
    {"drop_target", (PyCFunction)engine_drop_target, METH_VARARGS, "drop_target(id) -> requests counted"},
    {"set_group", (PyCFunction)engine_set_group, METH_VARARGS, "set_group(id, algorithm, [target ids])"},
    {"drop_group", (PyCFunction)engine_drop_group, METH_VARARGS, "drop_group(id)"},
    {"counters", (PyCFunction)engine_counters, METH_NOARGS, "[(target id, in flight, requests)]"},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject EngineType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "ecsemu.lb._fastproxy.FastProxy",
    .tp_basicsize = sizeof(engine_t),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "The HTTP listeners' fast path: an epoll loop run by run() in a thread of its own.",
    .tp_new = engine_new,
    .tp_dealloc = (destructor)engine_dealloc,
    .tp_methods = engine_methods,
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_fastproxy", "The HTTP listeners' fast path (see the C source's header).", -1, NULL,
};

PyMODINIT_FUNC PyInit__fastproxy(void) {
    if (PyType_Ready(&EngineType) < 0) return NULL;
    PyObject *m = PyModule_Create(&module);
    if (!m) return NULL;
    Py_INCREF(&EngineType);
    if (PyModule_AddObject(m, "FastProxy", (PyObject *)&EngineType) < 0) {
        Py_DECREF(&EngineType);
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
