/* udpflow: a two-way flow of sequence-numbered UDP datagrams for the
 * end-to-end tests. Run one in each site (ip netns exec): each sends its
 * stream to the other at a fixed rate and counts the other's stream.
 *
 * usage: udpflow -l LOCAL -p PEER [-P PORT] [-r RATE] [-d SECONDS]
 *                [-L LINGER_MS] [-s SIZE] [-n NICE] [-w]
 *   -l, -p  local and peer addresses (IPv4 or IPv6 literals)
 *   -P      UDP port, the same on both sides (default 50100)
 *   -r      datagrams per second to send (default 2000; 0: receive only)
 *   -d      stop after this many seconds (default: at SIGTERM/SIGINT)
 *   -L      after stopping, wait at most this long for the peer's stream
 *           to end (default 5000 ms)
 *   -s      datagram payload size (default 64, at least 32)
 *   -n      run at this nice value. With 19, under a CPU shortage (an
 *           emulated machine on a busy host) the kernel's packet
 *           processing (ksoftirqd) gets the CPU first, so the sending
 *           rate drops (see rate, stalls) rather than the receive
 *           backlogs on the way overflowing (a loss that says nothing
 *           about what is being tested)
 *   -w      print "UDPFLOW-READY" once the socket is bound, then wait for
 *           SIGUSR1 before sending (so a test can start both sides only
 *           once both receive)
 *
 * Pacing: a 1 ms timerfd; each tick sends what the rate makes due since
 * the start, at most BURST_MAX at a time. After a stall (more than
 * BEHIND_MAX datagrams due) the schedule moves on rather than catching up
 * (counted in stalls), so a stall never turns into a flood; rate is the
 * rate achieved. Stopping: sending ends, a FIN datagram carrying the number of
 * datagrams sent goes out (repeated every 100 ms while lingering; it also
 * says whether the peer's FIN has arrived), and the program keeps
 * receiving until it has the peer's FIN, the peer has acknowledged its own
 * and 200 ms passed without a data datagram, or LINGER_MS passed. Then it
 * prints one line:
 *
 *   UDPFLOW local=A peer=B port=P sent=N received=N unique=N lost=N dup=N
 *           reordered=N fins=N peer_sent=N fin=0|1 send_errors=N
 *           elapsed_ms=N rate=R stalls=N
 *
 * received counts every data datagram, unique the distinct sequence
 * numbers, dup = received - unique, reordered the datagrams that came after
 * a higher sequence number, fins the FIN datagrams received. lost is
 * peer_sent - unique when the peer's FIN arrived (fin=1), else the gaps
 * below the highest sequence number seen (a lower bound). Exit status 0
 * (1 on a usage or socket error).
 */
#include <arpa/inet.h>
#include <endian.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#define MAGIC 0x55445046u /* "UDPF" */
#define T_DATA 0u
#define T_FIN 1u
#define BURST_MAX 8   /* datagrams per wake-up */
#define BEHIND_MAX 16 /* a larger deficit is forgiven, not caught up */
#define FIN_EVERY_MS 100
#define QUIET_MS 200
#define SEQ_MAX (1ull << 30) /* sanity bound on a sequence number */
#define RCVBUF (8 << 20)

struct hdr {
	uint32_t magic, type;
	uint64_t seq;   /* data: sequence number from 0 */
	uint64_t count; /* FIN: datagrams sent */
	uint32_t ack, pad; /* FIN: 1 if the sender has the receiver's FIN */
};

struct flow {
	int fd, fam;
	struct sockaddr_storage peer;
	socklen_t peer_len;
	unsigned size;
	uint8_t *buf;
	/* sending */
	uint64_t sent, send_errors;
	/* receiving */
	uint8_t *seen; /* bitmap of sequence numbers */
	uint64_t seen_cap; /* bits */
	uint64_t received, unique, reordered, fins, peer_sent;
	uint64_t next_max; /* highest seq seen + 1 */
	bool fin, fin_acked; /* the peer's FIN; the peer has ours */
	uint64_t last_rx_ns; /* last data datagram */
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int parse_addr(const char *s, uint16_t port,
		      struct sockaddr_storage *ss, socklen_t *len)
{
	memset(ss, 0, sizeof(*ss));
	if (strchr(s, ':')) {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;

		a->sin6_family = AF_INET6;
		a->sin6_port = htons(port);
		*len = sizeof(*a);
		return inet_pton(AF_INET6, s, &a->sin6_addr) == 1 ? 0 : -1;
	} else {
		struct sockaddr_in *a = (struct sockaddr_in *)ss;

		a->sin_family = AF_INET;
		a->sin_port = htons(port);
		*len = sizeof(*a);
		return inet_pton(AF_INET, s, &a->sin_addr) == 1 ? 0 : -1;
	}
}

static void put_hdr(uint8_t *b, uint32_t type, uint64_t seq, uint64_t count,
		    uint32_t ack)
{
	struct hdr h = {
		.magic = htobe32(MAGIC),
		.type = htobe32(type),
		.seq = htobe64(seq),
		.count = htobe64(count),
		.ack = htobe32(ack),
	};

	memcpy(b, &h, sizeof(h));
}

/* One datagram; 1 sent, 0 to retry later (buffer full), -1 other error
 * (counted; the datagram is skipped). */
static int send_one(struct flow *f, uint32_t type, uint64_t seq,
		    uint64_t count, uint32_t ack)
{
	ssize_t n;

	put_hdr(f->buf, type, seq, count, ack);
	n = sendto(f->fd, f->buf, f->size, MSG_DONTWAIT,
		   (struct sockaddr *)&f->peer, f->peer_len);
	if (n == (ssize_t)f->size)
		return 1;
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK ||
		      errno == ENOBUFS))
		return 0;
	f->send_errors++;
	return -1;
}

static int seen_grow(struct flow *f, uint64_t seq)
{
	uint64_t cap = f->seen_cap ? f->seen_cap : 65536;
	uint8_t *p;

	while (cap <= seq)
		cap *= 2;
	p = realloc(f->seen, cap / 8);
	if (!p)
		return -1;
	memset(p + f->seen_cap / 8, 0, (cap - f->seen_cap) / 8);
	f->seen = p;
	f->seen_cap = cap;
	return 0;
}

static void on_datagram(struct flow *f, const uint8_t *b, size_t n)
{
	struct hdr h;
	uint64_t seq;

	if (n < sizeof(h))
		return;
	memcpy(&h, b, sizeof(h));
	if (be32toh(h.magic) != MAGIC)
		return;
	if (be32toh(h.type) == T_FIN) {
		f->fins++;
		f->fin = true;
		f->peer_sent = be64toh(h.count);
		if (be32toh(h.ack))
			f->fin_acked = true;
		return;
	}
	if (be32toh(h.type) != T_DATA)
		return;
	f->last_rx_ns = now_ns();
	seq = be64toh(h.seq);
	if (seq >= SEQ_MAX)
		return;
	if (seq >= f->seen_cap && seen_grow(f, seq) != 0) {
		perror("udpflow: realloc");
		exit(1);
	}
	f->received++;
	if (f->seen[seq / 8] & (1u << (seq % 8)))
		return; /* duplicate */
	f->seen[seq / 8] |= (uint8_t)(1u << (seq % 8));
	f->unique++;
	if (seq + 1 < f->next_max)
		f->reordered++;
	else
		f->next_max = seq + 1;
}

static void drain(struct flow *f)
{
	uint8_t b[2048];
	ssize_t n;

	while ((n = recv(f->fd, b, sizeof(b), MSG_DONTWAIT)) >= 0)
		on_datagram(f, b, (size_t)n);
}

static void start(bool *sending, uint64_t *t0, uint64_t *t_first,
		  uint64_t *deadline, double duration)
{
	*sending = true;
	*t0 = *t_first = now_ns();
	if (duration > 0)
		*deadline = *t0 + (uint64_t)(duration * 1e9);
}

static void usage(void)
{
	fprintf(stderr, "usage: udpflow -l LOCAL -p PEER [-P PORT] [-r RATE] "
			"[-d SECONDS] [-L LINGER_MS] [-s SIZE] [-n NICE] "
			"[-w]\n");
	exit(1);
}

int main(int argc, char **argv)
{
	const char *local = NULL, *peer = NULL;
	unsigned long port = 50100, size = 64;
	double rate = 2000, duration = 0;
	long linger_ms = 5000;
	bool wait_start = false, sending, stopping = false, acked = false;
	struct sockaddr_storage la;
	socklen_t la_len;
	struct flow f;
	sigset_t sigs;
	int c, one = 1, rcv = RCVBUF, ep, tfd, sfd;
	struct itimerspec its = {
		.it_interval = { 0, 1000000 },
		.it_value = { 0, 1000000 },
	};
	struct epoll_event ev;
	uint64_t t0 = 0, t_start = now_ns(), t_stop = 0, last_fin = 0;
	uint64_t deadline = 0, stalls = 0, t_first = 0;

	while ((c = getopt(argc, argv, "l:p:P:r:d:L:s:n:w")) != -1) {
		switch (c) {
		case 'l': local = optarg; break;
		case 'p': peer = optarg; break;
		case 'P': port = strtoul(optarg, NULL, 10); break;
		case 'r': rate = strtod(optarg, NULL); break;
		case 'd': duration = strtod(optarg, NULL); break;
		case 'L': linger_ms = strtol(optarg, NULL, 10); break;
		case 's': size = strtoul(optarg, NULL, 10); break;
		case 'n':
			if (setpriority(PRIO_PROCESS, 0,
					atoi(optarg)) != 0) {
				perror("udpflow: setpriority");
				return 1;
			}
			break;
		case 'w': wait_start = true; break;
		default: usage();
		}
	}
	if (!local || !peer || port == 0 || port > 65535 || rate < 0 ||
	    duration < 0 || linger_ms < 0 || size < sizeof(struct hdr) ||
	    size > 1400 || optind != argc)
		usage();

	memset(&f, 0, sizeof(f));
	f.size = (unsigned)size;
	f.buf = calloc(1, size);
	if (!f.buf || parse_addr(local, (uint16_t)port, &la, &la_len) ||
	    parse_addr(peer, (uint16_t)port, &f.peer, &f.peer_len) ||
	    la.ss_family != f.peer.ss_family) {
		fprintf(stderr, "udpflow: bad address %s / %s\n", local, peer);
		return 1;
	}
	f.fam = la.ss_family;
	f.fd = socket(f.fam, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (f.fd < 0) {
		perror("udpflow: socket");
		return 1;
	}
	setsockopt(f.fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	/* A large receive buffer, so a receiver descheduled for a while
	 * (emulation) does not drop; FORCE needs CAP_NET_ADMIN. */
	if (setsockopt(f.fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcv,
		       sizeof(rcv)) != 0)
		setsockopt(f.fd, SOL_SOCKET, SO_RCVBUF, &rcv, sizeof(rcv));
	if (bind(f.fd, (struct sockaddr *)&la, la_len) != 0) {
		fprintf(stderr, "udpflow: bind %s port %lu: %s\n", local,
			port, strerror(errno));
		return 1;
	}

	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGUSR1);
	sigprocmask(SIG_BLOCK, &sigs, NULL);
	sfd = signalfd(-1, &sigs, SFD_CLOEXEC | SFD_NONBLOCK);
	tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	ep = epoll_create1(EPOLL_CLOEXEC);
	if (sfd < 0 || tfd < 0 || ep < 0 ||
	    timerfd_settime(tfd, 0, &its, NULL) != 0) {
		perror("udpflow: setup");
		return 1;
	}
	ev.events = EPOLLIN;
	ev.data.fd = f.fd;
	epoll_ctl(ep, EPOLL_CTL_ADD, f.fd, &ev);
	ev.data.fd = tfd;
	epoll_ctl(ep, EPOLL_CTL_ADD, tfd, &ev);
	ev.data.fd = sfd;
	epoll_ctl(ep, EPOLL_CTL_ADD, sfd, &ev);

	sending = false;
	if (wait_start) {
		printf("UDPFLOW-READY\n");
		fflush(stdout);
	} else {
		start(&sending, &t0, &t_first, &deadline, duration);
	}

	for (;;) {
		struct epoll_event evs[4];
		int n = epoll_wait(ep, evs, 4, -1), i;
		uint64_t now;

		if (n < 0) {
			if (errno == EINTR)
				continue;
			perror("udpflow: epoll_wait");
			return 1;
		}
		for (i = 0; i < n; i++) {
			int fd = evs[i].data.fd;

			if (fd == f.fd) {
				drain(&f);
			} else if (fd == sfd) {
				struct signalfd_siginfo si;

				while (read(sfd, &si, sizeof(si)) ==
				       (ssize_t)sizeof(si)) {
					if (si.ssi_signo == SIGUSR1) {
						if (!sending && !stopping)
							start(&sending, &t0,
							      &t_first,
							      &deadline,
							      duration);
					} else if (!stopping) {
						stopping = true;
						t_stop = now_ns();
					}
				}
			} else if (fd == tfd) {
				uint64_t exp;

				if (read(tfd, &exp, sizeof(exp)) < 0 &&
				    errno != EAGAIN)
					perror("udpflow: timerfd");
			}
		}
		now = now_ns();
		if (sending && !stopping && deadline && now >= deadline) {
			stopping = true;
			t_stop = now;
		}
		if (sending && !stopping && rate > 0) {
			uint64_t due = (uint64_t)((double)(now - t0) * rate /
						  1e9) + 1;
			int burst = 0;

			/* After a stall (the whole emulated machine may be
			 * descheduled) the schedule moves on instead of
			 * catching up: a catch-up burst would overflow the
			 * receive backlogs on the way and measure those. */
			if (due > f.sent + BEHIND_MAX) {
				stalls++;
				t0 += (uint64_t)((double)(due - f.sent -
							  BEHIND_MAX) *
						 1e9 / rate);
				due = f.sent + BEHIND_MAX;
			}

			while (f.sent < due && burst < BURST_MAX) {
				/* A datagram that fails (other than a full
				 * buffer) keeps its number: counted in
				 * send_errors, and lost for the peer. */
				if (send_one(&f, T_DATA, f.sent, 0, 0) == 0)
					break;
				f.sent++;
				burst++;
			}
		}
		if (stopping) {
			drain(&f);
			/* Our FIN: now, every FIN_EVERY_MS, and at once
			 * when the peer's first arrives (acking it). */
			if (sending && (last_fin == 0 || (f.fin && !acked) ||
					now - last_fin >=
						FIN_EVERY_MS * 1000000ull) &&
			    send_one(&f, T_FIN, 0, f.sent, f.fin) == 1) {
				last_fin = now;
				acked = f.fin;
			}
			if ((f.fin && (f.fin_acked || !sending) &&
			     now - f.last_rx_ns >= QUIET_MS * 1000000ull) ||
			    now - t_stop >= (uint64_t)linger_ms * 1000000ull)
				break;
		}
	}

	{
		uint64_t lost;

		if (f.fin)
			lost = f.peer_sent > f.unique ? f.peer_sent - f.unique
						      : 0;
		else
			lost = f.next_max - f.unique;
		printf("UDPFLOW local=%s peer=%s port=%lu sent=%llu "
		       "received=%llu unique=%llu lost=%llu dup=%llu "
		       "reordered=%llu fins=%llu peer_sent=%llu fin=%d "
		       "send_errors=%llu elapsed_ms=%llu rate=%.0f "
		       "stalls=%llu\n",
		       local, peer, port, (unsigned long long)f.sent,
		       (unsigned long long)f.received,
		       (unsigned long long)f.unique, (unsigned long long)lost,
		       (unsigned long long)(f.received - f.unique),
		       (unsigned long long)f.reordered,
		       (unsigned long long)f.fins,
		       (unsigned long long)f.peer_sent, f.fin ? 1 : 0,
		       (unsigned long long)f.send_errors,
		       (unsigned long long)((now_ns() - t_start) / 1000000),
		       t_stop > t_first && t_first ? (double)f.sent * 1e9 /
				(double)(t_stop - t_first) : 0.0,
		       (unsigned long long)stalls);
		fflush(stdout);
	}
	free(f.seen);
	free(f.buf);
	return 0;
}
