/*
 * skiff-shim run  --plan <file> --report-fd <n>
 * skiff-shim exec --plan <file> --report-fd <n>
 *
 * The supervisor: starts the container (run) or a process inside a running
 * one (exec) from the plan, reports to the agent on the report fd
 * ("started <pid> <shim-pid>" or "error <step> <errno> ..."), closes it, and
 * stays resident in the host's namespaces as the process's parent. It writes
 * the output to the json-file log and to the clients of the attach socket,
 * passes their input on, forwards the signals it receives, reaps the process
 * and records its exit status in <state-dir>/exit.json. Containers, their
 * logs and their attach socket so outlive a restart of the agent.
 */
#include "shim.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef __NR_close_range
#define __NR_close_range 436
#endif
#ifndef __NR_pidfd_open
#define __NR_pidfd_open 434
#endif
#ifndef __NR_pidfd_send_signal
#define __NR_pidfd_send_signal 424
#endif

/* How long clients get for the rest of their output after the exit, and how long the shim waits
 * for the output pipes to close once the process has exited (a writer that escaped). */
#define ATTACH_DRAIN_MS 10000
#define OUTPUT_DRAIN_MS 2000

/* Signals the shim passes on to pid 1. SIGKILL and SIGSTOP cannot be caught: the agent sends
 * those to the container's pid itself (pidfd_send_signal). */
static const int forwarded[] = { SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGUSR1, SIGUSR2,
				 SIGWINCH, SIGALRM, SIGCONT, SIGTSTP, SIGTTIN, SIGTTOU };

struct start_error {
	int set;
	char step[640];
	int err;
	char path[4096];
};

static int report_fd = -1;

void shim_warn(const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "skiff-shim[%d]: ", (int)getpid());
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static void set_error(struct start_error *e, const char *step, int err, const char *path)
{
	if (e->set)
		return; /* the first failure is the cause, later ones follow from it */
	e->set = 1;
	e->err = err;
	snprintf(e->step, sizeof(e->step), "%s", step);
	snprintf(e->path, sizeof(e->path), "%s", path ? path : "");
}

/* The report uses the plan's escaping: bytes outside '!'..'~' and '%' become %XX; "" is "%". */
static void put_field(FILE *f, const char *s)
{
	fputc(' ', f);
	if (!*s)
		fputc('%', f);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p <= ' ' || *p > '~' || *p == '%')
			fprintf(f, "%%%02X", *p);
		else
			fputc(*p, f);
	}
}

static void report(const char *kind, const struct start_error *e, pid_t pid)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f;
	if (report_fd < 0)
		return;
	f = open_memstream(&text, &len);
	if (!f)
		return;
	fputs(kind, f);
	if (e) {
		char num[16];
		const char *name = strerrorname_np(e->err);
		snprintf(num, sizeof(num), "%d", e->err);
		put_field(f, e->step);
		put_field(f, num);
		put_field(f, name ? name : "E?");
		put_field(f, strerror(e->err));
		put_field(f, e->path);
	} else {
		fprintf(f, " %d %d", (int)pid, (int)getpid());
	}
	fputc('\n', f);
	fclose(f);
	if (write(report_fd, text, len) < 0)
		shim_warn("cannot write the report: %s", strerror(errno));
	free(text);
	close(report_fd);
	report_fd = -1;
}

static int write_all(int fd, const char *data, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, data, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		data += n;
		len -= (size_t)n;
	}
	return 0;
}

/*
 * temp file, rename: an agent that dies at any moment finds the old or the new file. No fsync:
 * state.json and exit.json only outlive the agent, never the host (a crash of the host ends its
 * containers too, and the agent reads a torn file as none), and two fsyncs here would sit on the
 * path of every start and every exit.
 */
static int write_atomic(int dirfd, const char *name, const char *data)
{
	char tmp[128];
	int fd;
	snprintf(tmp, sizeof(tmp), ".%s.tmp", name);
	fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -1;
	if (write_all(fd, data, strlen(data)) < 0) {
		close(fd);
		return -1;
	}
	close(fd);
	return renameat(dirfd, tmp, dirfd, name);
}

static char *json_string(const char *s)
{
	size_t len = strlen(s);
	char *out = malloc(len * 6 + 3);
	if (!out)
		return NULL;
	out[0] = '"';
	len = json_escape(out + 1, s, len);
	out[len + 1] = '"';
	out[len + 2] = '\0';
	return out;
}

static void now_rfc3339(char *out, size_t outlen)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	format_rfc3339nano(out, outlen, &ts);
}

/* The "oom_kill N" counter of memory.oom_control (v1) or memory.events (v2); -1 if unknown. */
static long long oom_kills(const char *file)
{
	char buf[4096];
	ssize_t n;
	int fd;
	if (!file)
		return -1;
	fd = open(file, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	for (char *line = buf; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL)
		if (strncmp(line, "oom_kill ", 9) == 0)
			return strtoll(line + 9, NULL, 10);
	return -1;
}

static int write_text(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	int rc;
	if (fd < 0)
		return -1;
	rc = write_all(fd, text, strlen(text));
	close(fd);
	return rc;
}

static int write_id_map(pid_t pid, const char *file, const struct id_map *maps, size_t n)
{
	char path[64], text[4096];
	size_t used = 0;
	for (size_t i = 0; i < n && used < sizeof(text); i++)
		used += (size_t)snprintf(text + used, sizeof(text) - used, "%lu %lu %lu\n", maps[i].inside,
					 maps[i].outside, maps[i].count);
	if (used >= sizeof(text)) {
		errno = E2BIG;
		return -1;
	}
	snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, file);
	return write_text(path, text);
}

/* The setup processes' side of the start: id maps, cgroups, then wait for exec or failure. */
/*
 * The setup processes' side of the start: id maps, cgroups, the pty master, then wait until
 * pid 1 has exec'd (EOF on the sync socket), is ready and held for "start" (*ready), or failed.
 */
static void drive_start(const struct plan *plan, int sync, pid_t stage1, pid_t *pid1, int *tty_fd, int *ready,
			struct start_error *e)
{
	struct sync_msg msg;
	int exec_seen = 0, status;

	for (;;) {
		int passed, n = sync_recv_fd(sync, &msg, &passed);
		if (n < 0) {
			set_error(e, "read from container setup", errno, NULL);
			break;
		}
		if (n == 0)
			break;
		if (passed >= 0 && msg.type != SYNC_TTY)
			close(passed);
		switch (msg.type) {
		case SYNC_USERNS_READY:
			/* The shim is in the parent user namespace, so it may write any mapping. */
			if (write_id_map(stage1, "uid_map", plan->uid_maps, plan->nuid_maps) < 0)
				set_error(e, "write uid_map", errno, NULL);
			else if (write_id_map(stage1, "gid_map", plan->gid_maps, plan->ngid_maps) < 0)
				set_error(e, "write gid_map", errno, NULL);
			else if (sync_send(sync, SYNC_MAPS_DONE, 0) < 0)
				set_error(e, "write to container setup", errno, NULL);
			break;
		case SYNC_PID:
		case SYNC_PID_IN_CGROUP: {
			char text[32];
			*pid1 = (pid_t)msg.value;
			snprintf(text, sizeof(text), "%d\n", (int)*pid1);
			/* What pid 1 does not join itself (v1, by "tasks") or by its clone (v2) is joined from
			 * outside, before it runs anything: the shim stays out of the cgroup. */
			for (size_t i = 0; i < plan->ncgroups && !e->set; i++) {
				char path[4096];
				if (plan->cgroup_tasks[i] >= 0 || (msg.type == SYNC_PID_IN_CGROUP && (int)i == plan->cgroup_into_index))
					continue;
				snprintf(path, sizeof(path), "%s/cgroup.procs", plan->cgroups[i]);
				if (write_text(path, text) < 0)
					set_error(e, "join cgroup", errno, path);
			}
			if (!e->set && sync_send(sync, SYNC_GO, 0) < 0)
				set_error(e, "write to container setup", errno, NULL);
			break;
		}
		case SYNC_TTY:
			if (passed < 0 || *tty_fd >= 0) {
				if (passed >= 0)
					close(passed);
				set_error(e, "receive pty master", EPROTO, NULL);
			} else {
				*tty_fd = passed;
			}
			break;
		case SYNC_READY:
			*ready = 1;
			break;
		case SYNC_EXEC:
			exec_seen = 1;
			break;
		case SYNC_ERROR:
			msg.step[sizeof(msg.step) - 1] = '\0';
			msg.path[sizeof(msg.path) - 1] = '\0';
			set_error(e, msg.step, msg.err, msg.path);
			break;
		default:
			set_error(e, "unexpected message from container setup", EPROTO, NULL);
		}
		if (e->set || *ready)
			break;
	}
	/* Stage 1 may still wait for an answer that will not come (a map the kernel refused). */
	if (e->set)
		kill(stage1, SIGKILL);
	if (waitpid(stage1, &status, 0) == stage1 && !e->set && !(WIFEXITED(status) && WEXITSTATUS(status) == 0))
		set_error(e, "container setup (stage 1) failed", ECHILD, NULL);
	if (!e->set && (*pid1 <= 0 || !(exec_seen || *ready)))
		set_error(e, "container init exited before exec", ECHILD, NULL);
	if (!e->set && plan->tty && *tty_fd < 0)
		set_error(e, "receive pty master", EPROTO, NULL);
	if (e->set && *pid1 > 0) {
		kill(*pid1, SIGKILL);
		waitpid(*pid1, &status, 0);
	}
	if (e->set && *tty_fd >= 0) {
		close(*tty_fd);
		*tty_fd = -1;
	}
}

/*
 * Opens what pid 1 joins its cgroups through (see struct plan): a "tasks" file per v1 hierarchy,
 * the directory of a v2 cgroup. The shim closes them once the setup processes have forked.
 * A process that forks pid 1 from inside a user namespace (userns) may not clone it into a cgroup
 * of the host's root, and in a new pid namespace a failed first fork would leave the namespace
 * dead, so there the v2 cgroup is joined from outside.
 */
static int open_cgroup_targets(struct plan *plan, int userns, struct start_error *e)
{
	plan->cgroup_into = plan->cgroup_into_index = -1;
	plan->cgroup_tasks = calloc(plan->ncgroups ? plan->ncgroups : 1, sizeof(int));
	if (!plan->cgroup_tasks) {
		set_error(e, "allocate cgroup list", ENOMEM, NULL);
		return -1;
	}
	for (size_t i = 0; i < plan->ncgroups; i++) {
		struct statfs fs;
		int dir = open(plan->cgroups[i], O_PATH | O_DIRECTORY | O_CLOEXEC);

		plan->cgroup_tasks[i] = -1;
		if (dir < 0 || fstatfs(dir, &fs) < 0) {
			set_error(e, "join cgroup", errno, plan->cgroups[i]);
			if (dir >= 0)
				close(dir);
			return -1;
		}
		if (fs.f_type == CGROUP2_SUPER_MAGIC) {
			/* One v2 cgroup at most by clone; another (there is none in a plan) from outside. */
			if (plan->cgroup_into < 0 && !userns) {
				plan->cgroup_into = dir;
				plan->cgroup_into_index = (int)i;
			} else {
				close(dir);
			}
			continue;
		}
		plan->cgroup_tasks[i] = openat(dir, "tasks", O_WRONLY | O_CLOEXEC);
		close(dir);
		if (plan->cgroup_tasks[i] < 0) {
			set_error(e, "join cgroup", errno, plan->cgroups[i]);
			return -1;
		}
	}
	return 0;
}

/* Whether stage 1 of a run plan forks pid 1 in a user namespace of its own or a joined one. */
static int forks_in_userns(const struct plan *plan)
{
	if (plan->ns_create & CLONE_NEWUSER)
		return 1;
	for (size_t i = 0; i < plan->njoins; i++)
		if (plan->joins[i].flag == CLONE_NEWUSER)
			return 1;
	return 0;
}

static void close_cgroup_targets(struct plan *plan)
{
	for (size_t i = 0; i < plan->ncgroups; i++)
		if (plan->cgroup_tasks[i] >= 0)
			close(plan->cgroup_tasks[i]);
	if (plan->cgroup_into >= 0)
		close(plan->cgroup_into);
}

static void close_stray_fds(const int *keep, size_t nkeep)
{
	/* keep is sorted; close everything >= 3 between the kept descriptors */
	unsigned next = 3;
	for (size_t i = 0; i <= nkeep; i++) {
		unsigned upto = i < nkeep ? (unsigned)keep[i] : ~0U;
		if (i < nkeep && keep[i] < 3)
			continue;
		if (upto > next)
			syscall(__NR_close_range, next, upto - 1, 0);
		if (i < nkeep && (unsigned)keep[i] + 1 > next)
			next = (unsigned)keep[i] + 1;
	}
}

static int cmp_int(const void *a, const void *b)
{
	return *(const int *)a - *(const int *)b;
}

static char *read_file(const char *path, size_t *len)
{
	struct stat st;
	char *text;
	size_t done = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0)
		return NULL;
	if (st.st_size > 64 << 20) {
		close(fd);
		errno = EFBIG;
		return NULL;
	}
	text = malloc((size_t)st.st_size + 1);
	while (text && done < (size_t)st.st_size) {
		ssize_t n = read(fd, text + done, (size_t)st.st_size - done);
		if (n <= 0)
			break;
		done += (size_t)n;
	}
	close(fd);
	if (text)
		text[done] = '\0';
	*len = done;
	return text;
}

static long long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

struct supervisor {
	pid_t pid1;
	int status;
	int exited;
	long long exited_at;
	int out[3];  /* read ends of stdout/stderr (out[1] is the pty master with a TTY); -1 when closed */
	int sync_fd; /* open while pid 1 is held for "start" and until it has exec'd */
	int held;
	struct start_error late; /* execve failed after "start" */
	struct json_log *log;    /* NULL without a log-path */
	struct attach *attach;   /* NULL without an attach-socket */
};

static void on_signals(struct supervisor *s, int sigfd)
{
	struct signalfd_siginfo info;
	while (read(sigfd, &info, sizeof(info)) == (ssize_t)sizeof(info)) {
		if (info.ssi_signo == SIGCHLD) {
			int status;
			pid_t pid;
			while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
				if (pid == s->pid1) {
					s->status = status;
					s->exited = 1;
					s->exited_at = now_ms();
				}
			}
		} else if (!s->exited) {
			kill(s->pid1, (int)info.ssi_signo);
		}
	}
}

static void late_error_message(const struct start_error *e, char *out, size_t outlen)
{
	const char *name = strerrorname_np(e->err);
	snprintf(out, outlen, "%s: %s (%s)%s%s", e->step, name ? name : "E?", strerror(e->err), e->path[0] ? ": " : "",
		 e->path);
}

/* Pid 1 after it was held: it reports exec (then EOF), or an execve that failed. */
static void on_sync(struct supervisor *s, int dontwait)
{
	struct sync_msg msg;
	ssize_t n;
	for (;;) {
		n = recv(s->sync_fd, &msg, sizeof(msg), dontwait ? MSG_DONTWAIT : 0);
		if (n < 0 && errno == EINTR)
			continue;
		break;
	}
	if (n < 0 && errno == EAGAIN)
		return;
	if (n != (ssize_t)sizeof(msg)) {
		close(s->sync_fd);
		s->sync_fd = -1;
		return;
	}
	if (msg.type == SYNC_ERROR) {
		char text[8192];
		msg.step[sizeof(msg.step) - 1] = '\0';
		msg.path[sizeof(msg.path) - 1] = '\0';
		set_error(&s->late, msg.step, msg.err, msg.path);
		late_error_message(&s->late, text, sizeof(text));
		shim_warn("%s", text);
		if (s->attach)
			attach_broadcast(s->attach, 3, text, strlen(text));
	}
}

static void start_hook(void *ctx)
{
	struct supervisor *s = ctx;
	if (!s->held)
		return; /* already running: "start" is idempotent, so a restarted agent may always send it */
	s->held = 0;
	if (s->sync_fd >= 0 && sync_send(s->sync_fd, SYNC_START, 0) < 0)
		shim_warn("cannot release pid 1: %s", strerror(errno));
	if (s->attach)
		attach_set_running(s->attach, 1);
}

static void on_output(struct supervisor *s, int stream)
{
	char buf[65536];
	ssize_t n = read(s->out[stream], buf, sizeof(buf));
	if (n > 0) {
		if (s->log)
			json_log_feed(s->log, stream, buf, (size_t)n);
		if (s->attach)
			attach_broadcast(s->attach, stream, buf, (size_t)n);
		return;
	}
	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	/* EOF, or EIO from a pty master once no process has the terminal open */
	if (s->log)
		json_log_flush(s->log, stream);
	close(s->out[stream]);
	s->out[stream] = -1;
}

static void supervise(struct supervisor *s, int sigfd)
{
	for (;;) {
		struct pollfd fds[8 + 72];
		size_t n = 0, first_attach;
		int i_sync = -1, i_out[3] = { -1, -1, -1 }, timeout = -1, ready;
		int read_output;

		if (s->exited && s->out[1] < 0 && s->out[2] < 0)
			return;
		/* Once pid 1 is gone the kernel has killed the rest of its pid namespace, so the pipes
		 * reach EOF at once; the deadline only guards against a writer that escaped. */
		if (s->exited) {
			long long left = s->exited_at + OUTPUT_DRAIN_MS - now_ms();
			if (left <= 0)
				return;
			timeout = (int)left;
		}
		/* A client that is behind holds the output back (then the container), unless pid 1 is
		 * gone and what is left in the pipes is all there will be. */
		read_output = s->exited || !s->attach || !attach_backlogged(s->attach);
		fds[n++] = (struct pollfd){ .fd = sigfd, .events = POLLIN };
		if (s->sync_fd >= 0) {
			i_sync = (int)n;
			fds[n++] = (struct pollfd){ .fd = s->sync_fd, .events = POLLIN };
		}
		for (int stream = 1; stream <= 2; stream++) {
			if (s->out[stream] < 0 || !read_output)
				continue;
			i_out[stream] = (int)n;
			fds[n++] = (struct pollfd){ .fd = s->out[stream], .events = POLLIN };
		}
		first_attach = n;
		if (s->attach)
			n += attach_poll_add(s->attach, fds + n, sizeof(fds) / sizeof(fds[0]) - n);

		ready = poll(fds, n, timeout);
		if (ready < 0 && errno == EINTR)
			continue;
		if (ready < 0) {
			shim_warn("poll: %s", strerror(errno));
			return;
		}
		if (ready == 0)
			continue; /* the deadline is checked above */
		if (fds[0].revents)
			on_signals(s, sigfd);
		if (i_sync >= 0 && fds[i_sync].revents)
			on_sync(s, 0);
		for (int stream = 1; stream <= 2; stream++)
			if (i_out[stream] >= 0 && fds[i_out[stream]].revents && s->out[stream] >= 0)
				on_output(s, stream);
		if (s->attach)
			attach_poll_handle(s->attach, fds + first_attach, n - first_attach);
	}
}

/* An exec enters the container through a pidfd of its pid 1, checked to still be the child of the
 * container's shim, so that a recycled pid cannot lead an exec into some other process. */
static int open_container(const struct plan *plan, int *ns_flags, struct start_error *e)
{
	char path[64], what[32], buf[4096], self_ns[64];
	struct stat target_user, own_user;
	long long ppid = -1;
	char state = '?';
	ssize_t n;
	int pidfd, fd;

	snprintf(what, sizeof(what), "pid %d", (int)plan->exec_pid);
	pidfd = (int)syscall(__NR_pidfd_open, plan->exec_pid, 0);
	if (pidfd < 0) {
		set_error(e, errno == ESRCH ? "container is not running" : "pidfd_open", errno, what);
		return -1;
	}
	fcntl(pidfd, F_SETFD, FD_CLOEXEC);
	snprintf(path, sizeof(path), "/proc/%d/status", (int)plan->exec_pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	n = fd < 0 ? -1 : read(fd, buf, sizeof(buf) - 1);
	if (fd >= 0)
		close(fd);
	if (n > 0) {
		char *line;
		buf[n] = '\0';
		if ((line = strstr(buf, "\nPPid:")))
			ppid = strtoll(line + 6, NULL, 10);
		if ((line = strstr(buf, "\nState:")))
			sscanf(line + 7, " %c", &state);
	}
	snprintf(path, sizeof(path), "/proc/%d/ns/user", (int)plan->exec_pid);
	snprintf(self_ns, sizeof(self_ns), "/proc/self/ns/user");
	if (ppid != plan->exec_shim_pid || state == 'Z' || state == 'X' || stat(path, &target_user) < 0 ||
	    stat(self_ns, &own_user) < 0 ||
	    /* still the same process as the pidfd: the /proc reads were about it */
	    syscall(__NR_pidfd_send_signal, pidfd, 0, NULL, 0) < 0) {
		set_error(e, "container is not running", ESRCH, what);
		close(pidfd);
		return -1;
	}
	*ns_flags = CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWNET | CLONE_NEWPID | CLONE_NEWCGROUP;
	/* Joining one's own user namespace is EINVAL: only a different one is joined. */
	if (target_user.st_ino != own_user.st_ino || target_user.st_dev != own_user.st_dev)
		*ns_flags |= CLONE_NEWUSER;
	return pidfd;
}

static void fail_start(struct start_error *e, const char *step, int err, const char *path)
{
	set_error(e, step, err, path);
	report("error", e, 0);
}

static int shim_main(enum plan_mode mode, const char *plan_path)
{
	struct plan plan;
	struct start_error err = { 0 };
	struct supervisor sup = { .pid1 = -1, .out = { -1, -1, -1 }, .sync_fd = -1 };
	struct attach_hooks hooks = { .ctx = &sup, .start = start_hook };
	char perr[512], started[48], finished[48], buf[8192];
	int keep[8], nkeep = 0, state_dir, devnull, log_fd = -1, sigfd, sync[2], child_stdio[3], pipes[3][2];
	int tty_fd = -1, ready = 0, pidfd = -1, ns_flags = 0, input_fd = -1, in_userns;
	long long oom_before, oom_after;
	sigset_t mask;
	size_t len;
	char *text;
	pid_t stage1;

	text = read_file(plan_path, &len);
	if (!text) {
		fail_start(&err, "read plan", errno, plan_path);
		return 2;
	}
	if (plan_parse(text, len, mode, &plan, perr, sizeof(perr)) < 0) {
		char step[640];
		snprintf(step, sizeof(step), "parse plan: %s", perr);
		fail_start(&err, step, EINVAL, plan_path);
		return 2;
	}

	/* Only the report fd and the stdio the plan names come with us from the agent. */
	keep[nkeep++] = report_fd;
	for (int i = 0; i < 3; i++)
		if (plan.stdio[i].kind == STDIO_FD)
			keep[nkeep++] = plan.stdio[i].fd;
	qsort(keep, (size_t)nkeep, sizeof(int), cmp_int);
	close_stray_fds(keep, (size_t)nkeep);
	for (int i = 0; i < 3; i++)
		if (plan.stdio[i].kind == STDIO_FD && fcntl(plan.stdio[i].fd, F_GETFD) < 0) {
			snprintf(buf, sizeof(buf), "fd %d", plan.stdio[i].fd);
			fail_start(&err, "stdio fd from the agent", errno, buf);
			return 2;
		}

	/* Our own session: the agent's terminal or process group must not reach the container. */
	setsid();
	if (prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) < 0 || chdir("/") < 0) {
		fail_start(&err, "become subreaper", errno, NULL);
		return 1;
	}
	signal(SIGPIPE, SIG_IGN); /* a vanished agent or attach client must not kill the supervisor */
	sigemptyset(&mask);
	sigaddset(&mask, SIGCHLD);
	for (size_t i = 0; i < sizeof(forwarded) / sizeof(forwarded[0]); i++)
		sigaddset(&mask, forwarded[i]);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	sigfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);

	state_dir = open(plan.state_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (sigfd < 0 || state_dir < 0 || devnull < 0) {
		fail_start(&err, sigfd < 0 ? "signalfd" : state_dir < 0 ? "open state dir" : "open /dev/null", errno,
			   state_dir < 0 ? plan.state_dir : NULL);
		return 1;
	}
	/* A restarted container reuses its state dir: what an earlier run left must not describe this one
	 * (exit.json there means "this run has ended" to clients and to a restarted agent). */
	unlinkat(state_dir, "exit.json", 0);
	unlinkat(state_dir, "state.json", 0);
	if (mode == PLAN_EXEC) {
		pidfd = open_container(&plan, &ns_flags, &err);
		if (pidfd < 0) {
			report("error", &err, 0);
			return 1;
		}
	}
	/* Before pid 1 exists, so that a client can connect the moment the agent hears "started". */
	if (plan.attach_socket) {
		sup.attach = attach_open(plan.attach_socket, &hooks);
		if (!sup.attach) {
			fail_start(&err, "create attach socket", errno, plan.attach_socket);
			return 1;
		}
	}
	for (int i = 0; i < 3; i++) {
		pipes[i][0] = pipes[i][1] = -1;
		switch (plan.stdio[i].kind) {
		case STDIO_NULL:
			child_stdio[i] = devnull;
			break;
		case STDIO_FD:
			child_stdio[i] = plan.stdio[i].fd;
			break;
		case STDIO_LOG:
		case STDIO_ATTACH:
			if (plan.stdio[i].kind == STDIO_LOG && plan.log_path && log_fd < 0)
				log_fd = open(plan.log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
			if (plan.stdio[i].kind == STDIO_LOG && plan.log_path && log_fd < 0) {
				fail_start(&err, "open log", errno, plan.log_path);
				return 1;
			}
			if (plan.tty) {
				child_stdio[i] = devnull; /* until pid 1 has its terminal */
				break;
			}
			if (pipe2(pipes[i], O_CLOEXEC) < 0) {
				fail_start(&err, "pipe", errno, NULL);
				return 1;
			}
			/* stdin: the container reads [0] and the shim writes [1]; output the other way */
			child_stdio[i] = pipes[i][i == 0 ? 0 : 1];
			break;
		}
	}
	if (log_fd >= 0) {
		sup.log = json_log_open(log_fd);
		if (!sup.log) {
			fail_start(&err, "allocate log buffers", ENOMEM, NULL);
			return 1;
		}
	}
	oom_before = oom_kills(plan.oom_events);

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sync) < 0) {
		fail_start(&err, "socketpair", errno, NULL);
		return 1;
	}
	in_userns = mode == PLAN_EXEC ? (ns_flags & CLONE_NEWUSER) != 0 : forks_in_userns(&plan);
	if (open_cgroup_targets(&plan, in_userns, &err) < 0) {
		report("error", &err, 0);
		return 1;
	}
	now_rfc3339(started, sizeof(started));
	stage1 = fork();
	if (stage1 < 0) {
		fail_start(&err, "fork", errno, NULL);
		return 1;
	}
	if (stage1 == 0) {
		close(sync[0]);
		if (mode == PLAN_EXEC)
			exec_stage1(&plan, sync[1], child_stdio, pidfd, ns_flags);
		container_stage1(&plan, sync[1], child_stdio);
	}
	close(sync[1]);
	close_cgroup_targets(&plan);
	if (pidfd >= 0)
		close(pidfd);
	for (int i = 0; i < 3; i++) {
		int child_end = i == 0 ? pipes[i][0] : pipes[i][1];
		if (child_end >= 0)
			close(child_end);
	}

	drive_start(&plan, sync[0], stage1, &sup.pid1, &tty_fd, &ready, &err);
	if (err.set) {
		char message[8192], *quoted;
		late_error_message(&err, message, sizeof(message));
		quoted = json_string(message);
		now_rfc3339(finished, sizeof(finished));
		snprintf(buf, sizeof(buf), "{\"pid\":0,\"exitCode\":null,\"signal\":0,\"oomKilled\":false,"
			 "\"startError\":%s,\"startedAt\":\"%s\",\"finishedAt\":\"%s\"}\n",
			 quoted ? quoted : "\"?\"", started, finished);
		free(quoted);
		write_atomic(state_dir, "exit.json", buf);
		if (sup.attach)
			attach_finish(sup.attach, buf, 0);
		report("error", &err, 0);
		return 1;
	}
	if (ready) {
		/* Held before execve until an attach client says "start". */
		sup.held = 1;
		sup.sync_fd = sync[0];
	} else {
		close(sync[0]);
	}

	{
		char *quoted = json_string(plan.log_path ? plan.log_path : "");
		snprintf(buf, sizeof(buf), "{\"shimPid\":%d,\"pid\":%d,\"startedAt\":\"%s\",\"logPath\":%s}\n",
			 (int)getpid(), (int)sup.pid1, started, quoted ? quoted : "\"\"");
		free(quoted);
		if (write_atomic(state_dir, "state.json", buf) < 0)
			shim_warn("cannot write state.json: %s", strerror(errno));
	}
	report("started", NULL, sup.pid1);

	/* From here on the agent may come and go: our stdio must not be its pipes. */
	{
		int diag = openat(state_dir, "shim.log", O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
		dup2(devnull, 0);
		dup2(devnull, 1);
		dup2(diag >= 0 ? diag : devnull, 2);
		if (diag >= 0)
			close(diag);
		for (int i = 0; i < 3; i++)
			if (plan.stdio[i].kind == STDIO_FD && plan.stdio[i].fd > 2)
				close(plan.stdio[i].fd);
	}
	if (plan.tty) {
		/* One terminal: all of its output is "stdout", as with Docker. */
		sup.out[1] = tty_fd;
		fcntl(tty_fd, F_SETFL, fcntl(tty_fd, F_GETFL) | O_NONBLOCK);
		if (plan.stdio[0].kind == STDIO_ATTACH)
			input_fd = fcntl(tty_fd, F_DUPFD_CLOEXEC, 3);
	} else {
		sup.out[1] = pipes[1][0];
		sup.out[2] = pipes[2][0];
		input_fd = pipes[0][1];
	}
	if (sup.attach) {
		attach_configure(sup.attach, sup.pid1, plan.tty, input_fd,
				 plan.tty ? fcntl(tty_fd, F_DUPFD_CLOEXEC, 3) : -1, plan.stdin_once);
		attach_set_running(sup.attach, !sup.held);
	}

	supervise(&sup, sigfd);
	for (int i = 1; i <= 2; i++) {
		if (sup.log)
			json_log_flush(sup.log, i);
		if (sup.out[i] >= 0)
			close(sup.out[i]);
	}
	if (!sup.exited) {
		/* poll failed or a writer outlived pid 1: still wait for pid 1 itself */
		while (waitpid(sup.pid1, &sup.status, 0) < 0 && errno == EINTR)
			;
	}
	if (sup.sync_fd >= 0) {
		on_sync(&sup, 1); /* an execve that failed right before the exit */
		if (sup.sync_fd >= 0)
			close(sup.sync_fd);
	}
	now_rfc3339(finished, sizeof(finished));
	oom_after = oom_kills(plan.oom_events);
	if (sup.late.set) {
		/* Held, started, and then execve failed: the exit code a shell would give. */
		char message[8192], *quoted;
		late_error_message(&sup.late, message, sizeof(message));
		quoted = json_string(message);
		snprintf(buf, sizeof(buf),
			 "{\"pid\":%d,\"exitCode\":%d,\"signal\":0,\"oomKilled\":false,\"startError\":%s,"
			 "\"startedAt\":\"%s\",\"finishedAt\":\"%s\"}\n",
			 (int)sup.pid1, sup.late.err == ENOENT ? 127 : 126, quoted ? quoted : "\"?\"", started, finished);
		free(quoted);
	} else {
		snprintf(buf, sizeof(buf),
			 "{\"pid\":%d,\"exitCode\":%d,\"signal\":%d,\"oomKilled\":%s,\"startedAt\":\"%s\","
			 "\"finishedAt\":\"%s\"}\n",
			 (int)sup.pid1,
			 WIFEXITED(sup.status) ? WEXITSTATUS(sup.status) : 128 + WTERMSIG(sup.status),
			 WIFSIGNALED(sup.status) ? WTERMSIG(sup.status) : 0,
			 oom_before >= 0 && oom_after > oom_before ? "true" : "false", started, finished);
	}
	if (write_atomic(state_dir, "exit.json", buf) < 0)
		shim_warn("cannot write exit.json: %s", strerror(errno));
	/* After exit.json: a client that finds the socket gone reads the status there. */
	if (sup.attach)
		attach_finish(sup.attach, buf, ATTACH_DRAIN_MS);
	return 0;
}

static void usage(void)
{
	fprintf(stderr, "usage: skiff-shim run --plan <file> --report-fd <n>\n"
			"       skiff-shim exec --plan <file> --report-fd <n>\n"
			"       skiff-shim --version\n");
	exit(2);
}

int main(int argc, char **argv)
{
	const char *plan_path = NULL;
	enum plan_mode mode;

	/* 0-2 must be open, or the first pipe or socket we make would land on them. */
	for (int fd = 0; fd < 3; fd++)
		if (fcntl(fd, F_GETFD) < 0 && open("/dev/null", O_RDWR) != fd)
			return 1;
	if (argc == 2 && strcmp(argv[1], "--version") == 0) {
		printf("skiff-shim %s (plan format %d)\n", SHIM_VERSION, PLAN_VERSION);
		return 0;
	}
	if (argc < 2)
		usage();
	if (strcmp(argv[1], "run") == 0)
		mode = PLAN_RUN;
	else if (strcmp(argv[1], "exec") == 0)
		mode = PLAN_EXEC;
	else
		usage();
	for (int i = 2; i < argc; i++) {
		if (strcmp(argv[i], "--plan") == 0 && i + 1 < argc) {
			plan_path = argv[++i];
		} else if (strcmp(argv[i], "--report-fd") == 0 && i + 1 < argc) {
			char *end;
			long fd = strtol(argv[++i], &end, 10);
			if (*end || fd < 3 || fd > 1 << 20)
				usage();
			report_fd = (int)fd;
		} else {
			usage();
		}
	}
	if (!plan_path || report_fd < 0)
		usage();
	if (fcntl(report_fd, F_SETFD, FD_CLOEXEC) < 0) {
		fprintf(stderr, "skiff-shim: report fd %d: %s\n", report_fd, strerror(errno));
		return 2;
	}
	return shim_main(mode, plan_path);
}
