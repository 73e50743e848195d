/*
 * The attach socket: a unix stream socket in the container's state directory that any number
 * of clients (the agent, again after a restart) connect to. Every client gets the container's
 * output and may send input, close-stdin, resize and start frames. The frame format is in
 * PLAN-FORMAT.md ("Attach socket").
 *
 * The shim never blocks on a client: sockets are non-blocking and each client has its own
 * output queue. A client whose queue passes BACKLOG_HIGH makes the shim stop reading the
 * container's output until it catches up (as dockerd does with a slow attach, the container
 * then blocks on a full pipe rather than losing output). Input the container has not taken
 * yet stops the shim from reading more frames from any client.
 */
#include "shim.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#define FRAME_HEADER 8
#define MAX_CLIENTS 64
#define MAX_CLIENT_PAYLOAD 65536
#define BACKLOG_HIGH (1 << 20)

enum frame_type {
	FRAME_STDIN = 0x00,
	FRAME_STDOUT = 0x01,
	FRAME_STDERR = 0x02,
	FRAME_ERROR = 0x03,
	FRAME_CLOSE_STDIN = 0x40,
	FRAME_RESIZE = 0x41,
	FRAME_START = 0x42,
	FRAME_HELLO = 0x80,
	FRAME_EXIT = 0x81,
};

struct client {
	int fd;
	unsigned char in[FRAME_HEADER + MAX_CLIENT_PAYLOAD];
	size_t in_len;
	char *out;
	size_t out_off, out_len, out_cap;
	int sent_stdin; /* a stdin client: with stdin-once its going closes the container's stdin */
	int eof;        /* the client sends no more; it goes once its frames are handled */
	int dead;
};

enum slot_kind { SLOT_LISTEN, SLOT_INPUT, SLOT_CLIENT };

struct slot {
	enum slot_kind kind;
	struct client *client;
};

struct attach {
	int listen_fd;
	int dir_fd;    /* the socket's directory, for unlinkat of the name */
	char name[sizeof(((struct sockaddr_un *)0)->sun_path)];
	dev_t dev;     /* the socket file we made: only that one is removed */
	ino_t ino;
	struct attach_hooks hooks;

	struct client *clients[MAX_CLIENTS];
	size_t nclients;
	struct slot slots[MAX_CLIENTS + 2];
	size_t nslots;

	pid_t pid;
	int tty, running, stdin_once;
	int input_fd;   /* the container's stdin (pipe or pty master); -1 once closed */
	int winsize_fd; /* the pty master for resizes, or -1 */
	char *input;    /* queued input the container has not taken yet */
	size_t input_len, input_cap;
	int input_close_pending;
};

static void put_be32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)(v >> 24);
	p[1] = (unsigned char)(v >> 16);
	p[2] = (unsigned char)(v >> 8);
	p[3] = (unsigned char)v;
}

static uint32_t get_be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

struct attach *attach_open(const char *path, const struct attach_hooks *hooks)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	const char *slash = strrchr(path, '/');
	char dir[4096];
	struct attach *a;
	struct stat st;
	mode_t old_umask;
	int rc, saved;

	if (!slash || slash[1] == '\0' || (size_t)(slash - path) >= sizeof(dir)) {
		errno = EINVAL;
		return NULL;
	}
	if (strlen(slash + 1) >= sizeof(addr.sun_path)) {
		errno = ENAMETOOLONG;
		return NULL;
	}
	a = calloc(1, sizeof(*a));
	if (!a)
		return NULL;
	a->listen_fd = a->dir_fd = a->input_fd = a->winsize_fd = -1;
	a->hooks = *hooks;
	snprintf(a->name, sizeof(a->name), "%s", slash + 1);
	snprintf(dir, sizeof(dir), "%.*s", slash == path ? 1 : (int)(slash - path), path);
	strcpy(addr.sun_path, a->name);

	a->dir_fd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (a->dir_fd < 0)
		goto fail;
	/* A socket left by an earlier run of this container goes; anything else is not ours to remove. */
	if (fstatat(a->dir_fd, a->name, &st, AT_SYMLINK_NOFOLLOW) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			errno = EEXIST;
			goto fail;
		}
		if (unlinkat(a->dir_fd, a->name, 0) < 0)
			goto fail;
	}
	a->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (a->listen_fd < 0)
		goto fail;
	/* State directories can be longer than sun_path: bind the name relative to its directory.
	 * The umask makes the socket 0600 from the start. */
	if (fchdir(a->dir_fd) < 0)
		goto fail;
	old_umask = umask(0177);
	rc = bind(a->listen_fd, (struct sockaddr *)&addr, sizeof(addr));
	saved = errno;
	umask(old_umask);
	if (chdir("/") < 0 || rc < 0) {
		if (rc < 0)
			errno = saved;
		goto fail;
	}
	if (fstatat(a->dir_fd, a->name, &st, AT_SYMLINK_NOFOLLOW) < 0 || listen(a->listen_fd, 16) < 0)
		goto fail;
	a->dev = st.st_dev;
	a->ino = st.st_ino;
	return a;
fail:
	saved = errno;
	if (a->listen_fd >= 0)
		close(a->listen_fd);
	if (a->dir_fd >= 0)
		close(a->dir_fd);
	free(a);
	errno = saved;
	return NULL;
}

void attach_configure(struct attach *a, pid_t pid, int tty, int input_fd, int winsize_fd, int stdin_once)
{
	a->pid = pid;
	a->tty = tty;
	a->input_fd = input_fd;
	a->winsize_fd = winsize_fd;
	a->stdin_once = stdin_once;
	if (input_fd >= 0)
		fcntl(input_fd, F_SETFL, fcntl(input_fd, F_GETFL) | O_NONBLOCK);
}

void attach_set_running(struct attach *a, int running)
{
	a->running = running;
}

/* Sends what is queued; a client that cannot take it now gets the rest on POLLOUT. */
static void flush_client(struct client *c)
{
	while (!c->dead && c->out_off < c->out_len) {
		ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (n <= 0) {
			c->dead = 1;
			return;
		}
		c->out_off += (size_t)n;
	}
	c->out_off = c->out_len = 0;
}

static void queue_frame(struct client *c, int type, const char *data, size_t len)
{
	size_t need = FRAME_HEADER + len;
	unsigned char header[FRAME_HEADER] = { (unsigned char)type, 0, 0, 0 };

	if (c->dead)
		return;
	if (c->out_off > 0 && c->out_len + need > c->out_cap) {
		memmove(c->out, c->out + c->out_off, c->out_len - c->out_off);
		c->out_len -= c->out_off;
		c->out_off = 0;
	}
	if (c->out_len + need > c->out_cap) {
		size_t cap = c->out_cap ? c->out_cap : 16384;
		char *bigger;
		while (cap < c->out_len + need)
			cap *= 2;
		bigger = realloc(c->out, cap);
		if (!bigger) {
			shim_warn("attach: out of memory for a client's output; dropping the client");
			c->dead = 1;
			return;
		}
		c->out = bigger;
		c->out_cap = cap;
	}
	put_be32(header + 4, (uint32_t)len);
	memcpy(c->out + c->out_len, header, FRAME_HEADER);
	if (len)
		memcpy(c->out + c->out_len + FRAME_HEADER, data, len);
	c->out_len += need;
}

static void close_input(struct attach *a)
{
	if (a->input_fd >= 0)
		close(a->input_fd);
	a->input_fd = -1;
	a->input_len = 0;
	a->input_close_pending = 0;
}

/* close-stdin, or a stdin-once client gone: EOF for the container once it has its input. With a
 * TTY it is ignored, as by dockerd: the terminal stays (the user types ^D for an EOF). */
static void request_close_input(struct attach *a)
{
	if (a->tty || a->input_fd < 0)
		return;
	if (a->input_len == 0)
		close_input(a);
	else
		a->input_close_pending = 1;
}

static void write_input(struct attach *a)
{
	size_t done = 0;
	while (a->input_fd >= 0 && done < a->input_len) {
		ssize_t n = write(a->input_fd, a->input + done, a->input_len - done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			break;
		if (n < 0) {
			/* EPIPE: the container closed its stdin; EIO: its terminal is gone. */
			close_input(a);
			return;
		}
		done += (size_t)n;
	}
	memmove(a->input, a->input + done, a->input_len - done);
	a->input_len -= done;
	if (a->input_len == 0 && a->input_close_pending)
		close_input(a);
}

static void take_input(struct attach *a, const unsigned char *data, size_t len)
{
	if (a->input_fd < 0 || len == 0)
		return; /* no stdin, or it was closed: dropped, as dockerd does */
	if (a->input_len + len > a->input_cap) {
		size_t cap = a->input_cap ? a->input_cap : 65536;
		char *bigger;
		while (cap < a->input_len + len)
			cap *= 2;
		bigger = realloc(a->input, cap);
		if (!bigger) {
			shim_warn("attach: out of memory for input; dropping %zu bytes", len);
			return;
		}
		a->input = bigger;
		a->input_cap = cap;
	}
	memcpy(a->input + a->input_len, data, len);
	a->input_len += len;
	write_input(a);
}

static void handle_frame(struct attach *a, struct client *c, int type, const unsigned char *payload, size_t len)
{
	switch (type) {
	case FRAME_STDIN:
		c->sent_stdin = 1; /* an empty one only says "this client carries stdin" */
		take_input(a, payload, len);
		break;
	case FRAME_CLOSE_STDIN:
		c->sent_stdin = 1;
		request_close_input(a);
		break;
	case FRAME_RESIZE:
		if (len == 4 && a->winsize_fd >= 0) {
			struct winsize ws = { .ws_row = (unsigned short)(payload[0] << 8 | payload[1]),
					      .ws_col = (unsigned short)(payload[2] << 8 | payload[3]) };
			if (ioctl(a->winsize_fd, TIOCSWINSZ, &ws) < 0)
				shim_warn("attach: resize: %s", strerror(errno));
		}
		break;
	case FRAME_START:
		if (a->hooks.start)
			a->hooks.start(a->hooks.ctx);
		break;
	default:
		/* A newer agent's frame: skipping it keeps the stream in step. */
		shim_warn("attach: ignoring a frame of unknown type 0x%02x", type);
	}
}

/* Handles the complete frames a client has sent, until input backs up. */
static void parse_client(struct attach *a, struct client *c)
{
	size_t at = 0;
	while (!c->dead && a->input_len == 0 && c->in_len - at >= FRAME_HEADER) {
		uint32_t len = get_be32(c->in + at + 4);
		if (len > MAX_CLIENT_PAYLOAD) {
			shim_warn("attach: a client sent a frame of %u bytes (at most %d); dropping it", len,
				  MAX_CLIENT_PAYLOAD);
			c->dead = 1;
			break;
		}
		if (c->in_len - at < FRAME_HEADER + len)
			break;
		handle_frame(a, c, c->in[at], c->in + at + FRAME_HEADER, len);
		at += FRAME_HEADER + len;
	}
	memmove(c->in, c->in + at, c->in_len - at);
	c->in_len -= at;
	if (c->eof && a->input_len == 0)
		c->dead = 1;
}

static void read_client(struct attach *a, struct client *c)
{
	ssize_t n;
	if (c->in_len == sizeof(c->in)) {
		/* Full: it holds a whole frame, waiting for input to drain (a read of 0 bytes is no EOF). */
		parse_client(a, c);
		return;
	}
	n = read(c->fd, c->in + c->in_len, sizeof(c->in) - c->in_len);
	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	if (n <= 0)
		c->eof = 1; /* EOF, or ECONNRESET after the client's last frames */
	else
		c->in_len += (size_t)n;
	parse_client(a, c);
}

static void drop_dead(struct attach *a)
{
	size_t kept = 0;
	for (size_t i = 0; i < a->nclients; i++) {
		struct client *c = a->clients[i];
		if (!c->dead) {
			a->clients[kept++] = c;
			continue;
		}
		if (c->sent_stdin && a->stdin_once)
			request_close_input(a);
		close(c->fd);
		free(c->out);
		free(c);
	}
	a->nclients = kept;
}

static void accept_clients(struct attach *a)
{
	for (;;) {
		char hello[160];
		struct client *c;
		int fd = accept4(a->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
				shim_warn("attach: accept: %s", strerror(errno));
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			return;
		}
		if (a->nclients == MAX_CLIENTS) {
			shim_warn("attach: more than %d clients; refusing one", MAX_CLIENTS);
			close(fd);
			continue;
		}
		c = calloc(1, sizeof(*c));
		if (!c) {
			close(fd);
			continue;
		}
		c->fd = fd;
		a->clients[a->nclients++] = c;
		snprintf(hello, sizeof(hello), "{\"version\":1,\"pid\":%d,\"tty\":%s,\"stdin\":%s,\"running\":%s}",
			 (int)a->pid, a->tty ? "true" : "false", a->input_fd >= 0 ? "true" : "false",
			 a->running ? "true" : "false");
		queue_frame(c, FRAME_HELLO, hello, strlen(hello));
		flush_client(c);
	}
}

void attach_broadcast(struct attach *a, int type, const char *data, size_t len)
{
	for (size_t i = 0; i < a->nclients; i++) {
		queue_frame(a->clients[i], type, data, len);
		flush_client(a->clients[i]);
	}
	drop_dead(a);
}

int attach_backlogged(const struct attach *a)
{
	for (size_t i = 0; i < a->nclients; i++)
		if (a->clients[i]->out_len - a->clients[i]->out_off > BACKLOG_HIGH)
			return 1;
	return 0;
}

size_t attach_poll_add(struct attach *a, struct pollfd *fds, size_t max)
{
	size_t n = 0;
	a->nslots = 0;
	if (a->listen_fd >= 0 && n < max) {
		fds[n++] = (struct pollfd){ .fd = a->listen_fd, .events = POLLIN };
		a->slots[a->nslots++] = (struct slot){ .kind = SLOT_LISTEN };
	}
	if (a->input_fd >= 0 && a->input_len > 0 && n < max) {
		fds[n++] = (struct pollfd){ .fd = a->input_fd, .events = POLLOUT };
		a->slots[a->nslots++] = (struct slot){ .kind = SLOT_INPUT };
	}
	for (size_t i = 0; i < a->nclients && n < max; i++) {
		struct client *c = a->clients[i];
		short events = 0;
		if (!c->eof && a->input_len == 0 && c->in_len < sizeof(c->in))
			events |= POLLIN;
		if (c->out_off < c->out_len)
			events |= POLLOUT;
		fds[n++] = (struct pollfd){ .fd = c->fd, .events = events };
		a->slots[a->nslots++] = (struct slot){ .kind = SLOT_CLIENT, .client = c };
	}
	return n;
}

void attach_poll_handle(struct attach *a, const struct pollfd *fds, size_t n)
{
	int accept_now = 0, input_drained = 0;
	for (size_t i = 0; i < n && i < a->nslots; i++) {
		const struct slot *s = &a->slots[i];
		short ev = fds[i].revents;
		if (!ev)
			continue;
		switch (s->kind) {
		case SLOT_LISTEN:
			accept_now = 1;
			break;
		case SLOT_INPUT:
			write_input(a);
			if (ev & (POLLERR | POLLHUP))
				close_input(a);
			input_drained = a->input_len == 0;
			break;
		case SLOT_CLIENT:
			if (ev & POLLOUT)
				flush_client(s->client);
			if (ev & (POLLIN | POLLHUP | POLLERR))
				read_client(a, s->client);
			break;
		}
	}
	/* Frames held back while input was backed up. */
	for (size_t i = 0; input_drained && i < a->nclients && a->input_len == 0; i++)
		parse_client(a, a->clients[i]);
	drop_dead(a);
	if (accept_now)
		accept_clients(a);
}

static long long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void attach_finish(struct attach *a, const char *exit_json, int timeout_ms)
{
	long long deadline = now_ms() + timeout_ms;
	struct stat st;

	/* Only the socket this shim made: a restarted container may already have its own. */
	if (fstatat(a->dir_fd, a->name, &st, AT_SYMLINK_NOFOLLOW) == 0 && st.st_dev == a->dev && st.st_ino == a->ino)
		unlinkat(a->dir_fd, a->name, 0);
	close(a->listen_fd);
	a->listen_fd = -1;
	close(a->dir_fd);
	a->dir_fd = -1;
	close_input(a);
	if (a->winsize_fd >= 0)
		close(a->winsize_fd);
	a->winsize_fd = -1;

	for (size_t i = 0; i < a->nclients; i++) {
		queue_frame(a->clients[i], FRAME_EXIT, exit_json, strlen(exit_json));
		flush_client(a->clients[i]);
	}
	for (;;) {
		struct pollfd fds[MAX_CLIENTS];
		size_t n = 0;
		long long left;
		for (size_t i = 0; i < a->nclients; i++) {
			struct client *c = a->clients[i];
			if (c->out_off == c->out_len)
				c->dead = 1; /* everything delivered */
		}
		drop_dead(a);
		left = deadline - now_ms();
		if (a->nclients == 0 || left <= 0)
			break;
		for (size_t i = 0; i < a->nclients; i++)
			fds[n++] = (struct pollfd){ .fd = a->clients[i]->fd, .events = POLLOUT };
		if (poll(fds, n, (int)left) < 0 && errno != EINTR)
			break;
		for (size_t i = 0; i < n; i++)
			if (fds[i].revents)
				flush_client(a->clients[i]);
	}
	for (size_t i = 0; i < a->nclients; i++) {
		shim_warn("attach: a client did not take the rest of its output within %d ms", timeout_ms);
		a->clients[i]->dead = 1;
	}
	drop_dead(a);
	free(a->input);
	free(a);
}
