/*
 * The two setup processes that become the container.
 *
 * Stage 1 (forked by the shim, still in the host's pid namespace): joins
 * existing namespaces, creates the user namespace and waits for the shim to
 * write its id maps, unshares the other namespaces, forks pid 1, reports its
 * pid and exits. The shim is a child subreaper, so pid 1 becomes its child.
 *
 * Stage 2 (pid 1): is cloned into the v2 cgroup (if any), waits for the shim,
 * joins its v1 cgroups itself (see join_own_cgroups), builds the root
 * filesystem, sets up its terminal, drops privileges and execs
 * (with attach-hold, only after the shim says "start"). Any failure is
 * reported as step + errno + path over the sync socket; the socket is
 * close-on-exec, so after a successful execve the shim reads EOF.
 *
 * For exec, stage 1 joins the namespaces of the container's pid 1 through a
 * pidfd instead, and the process it forks skips the filesystem: it already
 * lives in the container's root.
 */
#include "shim.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <linux/capability.h>
#include <linux/sched.h> /* struct clone_args, CLONE_INTO_CGROUP */
#include <linux/seccomp.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <termios.h>
#include <unistd.h>

#ifndef __NR_close_range
#define __NR_close_range 436
#endif
#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

static int sync_fd = -1;

void sync_init(int fd)
{
	sync_fd = fd;
}

int sync_send(int fd, int type, int64_t value)
{
	struct sync_msg msg;
	memset(&msg, 0, sizeof(msg));
	msg.type = type;
	msg.value = value;
	return send(fd, &msg, sizeof(msg), MSG_NOSIGNAL) == (ssize_t)sizeof(msg) ? 0 : -1;
}

static int sync_send_fd(int fd, int type, int passed)
{
	struct sync_msg msg;
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int))];
	} control;
	struct iovec iov = { .iov_base = &msg, .iov_len = sizeof(msg) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.buf,
			     .msg_controllen = sizeof(control.buf) };
	struct cmsghdr *cm;

	memset(&msg, 0, sizeof(msg));
	memset(&control, 0, sizeof(control));
	msg.type = type;
	cm = CMSG_FIRSTHDR(&mh);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &passed, sizeof(int));
	return sendmsg(fd, &mh, MSG_NOSIGNAL) == (ssize_t)sizeof(msg) ? 0 : -1;
}

int sync_recv_fd(int fd, struct sync_msg *msg, int *passed)
{
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int) * 4)];
	} control;
	*passed = -1;
	for (;;) {
		struct iovec iov = { .iov_base = msg, .iov_len = sizeof(*msg) };
		struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.buf,
				     .msg_controllen = sizeof(control.buf) };
		ssize_t n = recvmsg(fd, &mh, MSG_CMSG_CLOEXEC);
		if (n < 0 && errno == EINTR)
			continue;
		for (struct cmsghdr *cm = n >= 0 ? CMSG_FIRSTHDR(&mh) : NULL; cm; cm = CMSG_NXTHDR(&mh, cm)) {
			if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
				continue;
			for (size_t i = 0; i < (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int); i++) {
				int got;
				memcpy(&got, CMSG_DATA(cm) + i * sizeof(int), sizeof(int));
				if (*passed < 0)
					*passed = got;
				else
					close(got);
			}
		}
		if (n > 0 && (size_t)n != sizeof(*msg)) {
			if (*passed >= 0)
				close(*passed);
			*passed = -1;
			errno = EPROTO;
			return -1;
		}
		return (int)n;
	}
}

int sync_recv(int fd, struct sync_msg *msg)
{
	int passed, n = sync_recv_fd(fd, msg, &passed);
	if (passed >= 0)
		close(passed);
	return n;
}

void die_errno(int err, const char *step, const char *path)
{
	struct sync_msg msg;
	memset(&msg, 0, sizeof(msg));
	msg.type = SYNC_ERROR;
	msg.err = err;
	snprintf(msg.step, sizeof(msg.step), "%s", step);
	snprintf(msg.path, sizeof(msg.path), "%s", path ? path : "");
	if (sync_fd >= 0)
		send(sync_fd, &msg, sizeof(msg), MSG_NOSIGNAL);
	_exit(1);
}

void die(const char *step, const char *path)
{
	die_errno(errno, step, path);
}

static int close_range_fds(unsigned first, unsigned last, unsigned flags)
{
	if (first > last)
		return 0;
	return (int)syscall(__NR_close_range, first, last, flags);
}

/* Node ignores SIGPIPE and SIGXFSZ and ignored signals survive execve: start from the defaults. */
static void reset_signals(void)
{
	struct sigaction sa;
	sigset_t none;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_DFL;
	for (int sig = 1; sig < NSIG; sig++)
		if (sig != SIGKILL && sig != SIGSTOP)
			sigaction(sig, &sa, NULL); /* glibc's internal signals refuse: fine */
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
}

static void join_namespaces(const struct plan *plan)
{
	/* A joined user namespace first: it decides what the others may be joined as. */
	for (int pass = 0; pass < 2; pass++) {
		for (size_t i = 0; i < plan->njoins; i++) {
			const struct ns_join *j = &plan->joins[i];
			int fd;
			if ((j->flag == CLONE_NEWUSER) != (pass == 0))
				continue;
			fd = open(j->path, O_RDONLY | O_CLOEXEC);
			if (fd < 0 || setns(fd, j->flag) < 0)
				die("join namespace", j->path);
			close(fd);
		}
	}
}

/* The container's stdio on 0-2 (dup2 clears close-on-exec, which Node sets on its own 0-2). */
static void setup_stdio(const int fds[3])
{
	int high[3];
	for (int i = 0; i < 3; i++) {
		high[i] = fcntl(fds[i], F_DUPFD_CLOEXEC, 3);
		if (high[i] < 0)
			die("dup stdio", NULL);
	}
	for (int i = 0; i < 3; i++) {
		if (dup2(high[i], i) < 0)
			die("dup2 stdio", NULL);
		close(high[i]);
	}
	/* Nothing of the shim or the agent reaches the container (CVE-2024-21626 class). */
	if (close_range_fds(3, (unsigned)sync_fd - 1, 0) < 0 || close_range_fds((unsigned)sync_fd + 1, ~0U, 0) < 0)
		die("close inherited fds", NULL);
}

static void loopback_up(void)
{
	struct ifreq ifr;
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (s < 0)
		die("socket for loopback", "lo");
	memset(&ifr, 0, sizeof(ifr));
	strcpy(ifr.ifr_name, "lo");
	if (ioctl(s, SIOCGIFFLAGS, &ifr) < 0)
		die("get interface flags", "lo");
	ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
	if (ioctl(s, SIOCSIFFLAGS, &ifr) < 0)
		die("bring interface up", "lo");
	close(s);
}

static void apply_rlimits(const struct plan *plan)
{
	for (size_t i = 0; i < plan->nrlimits; i++) {
		char what[32];
		snprintf(what, sizeof(what), "resource %d", plan->rlimits[i].resource);
		if (setrlimit(plan->rlimits[i].resource, &plan->rlimits[i].limit) < 0)
			die("setrlimit", what);
	}
}

static void apply_identity(const struct plan *plan)
{
	char what[32];

	if (plan->has_caps) {
		/* Keep the permitted set across setresuid to a non-root user; capset decides it next. */
		if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0)
			die("set keepcaps", NULL);
		for (int cap = 0; cap < 64; cap++) {
			if (plan->cap_bounding & (1ULL << cap))
				continue;
			if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0) {
				if (errno == EINVAL)
					break; /* past the kernel's last capability */
				snprintf(what, sizeof(what), "capability %d", cap);
				die("drop bounding capability", what);
			}
		}
	}
	if (plan->has_user || plan->has_groups) {
		if (setgroups(plan->ngroups, plan->groups) < 0)
			die("setgroups", NULL);
	}
	if (plan->has_user) {
		snprintf(what, sizeof(what), "gid %u", (unsigned)plan->gid);
		if (setresgid(plan->gid, plan->gid, plan->gid) < 0)
			die("setresgid", what);
		snprintf(what, sizeof(what), "uid %u", (unsigned)plan->uid);
		if (setresuid(plan->uid, plan->uid, plan->uid) < 0)
			die("setresuid", what);
	}
	if (plan->has_caps) {
		struct __user_cap_header_struct header = { .version = _LINUX_CAPABILITY_VERSION_3, .pid = 0 };
		struct __user_cap_data_struct data[2];
		/*
		 * seccomp(2) without no_new_privs needs CAP_SYS_ADMIN, and the filter goes in last, right
		 * before execve (so that it need not allow what the setup does). Keep CAP_SYS_ADMIN until
		 * then: execve gives root the bounding set and anyone else no more than the file's
		 * capabilities within it, plus the ambient set, and CAP_SYS_ADMIN is in none of these
		 * unless the plan has it anyway.
		 */
		uint64_t keep = plan->seccomp && !plan->no_new_privs ? 1ULL << CAP_SYS_ADMIN : 0;
		for (int i = 0; i < 2; i++) {
			data[i].effective = (uint32_t)((plan->cap_effective | keep) >> (32 * i));
			data[i].permitted = (uint32_t)((plan->cap_permitted | keep) >> (32 * i));
			data[i].inheritable = (uint32_t)(plan->cap_inheritable >> (32 * i));
		}
		if (syscall(SYS_capset, &header, data) < 0)
			die("capset", NULL);
		if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
			die("clear ambient capabilities", NULL);
		for (int cap = 0; cap < 64; cap++) {
			if (!(plan->cap_ambient & (1ULL << cap)))
				continue;
			snprintf(what, sizeof(what), "capability %d", cap);
			if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap, 0, 0) < 0)
				die("raise ambient capability", what);
		}
	}
}

static const char *plan_env(const struct plan *plan, const char *name)
{
	size_t len = strlen(name);
	for (size_t i = 0; i < plan->nenv; i++)
		if (strncmp(plan->env[i], name, len) == 0 && plan->env[i][len] == '=')
			return plan->env[i] + len + 1;
	return NULL;
}

/*
 * Finds argv[0] like execvp would, but with the plan's PATH (execvpe would search the shim's
 * own). Done before the hold and before SYNC_EXEC, so that a missing program is a start error
 * the agent gets at once, as with Docker, and not a late one after "start".
 */
static void find_program(const struct plan *plan, char *out, size_t outlen)
{
	const char *file = plan->argv[0];
	const char *path = plan_env(plan, "PATH");
	int saved = ENOENT;

	if (file[0] == '\0')
		die_errno(ENOENT, "exec", file);
	if (strchr(file, '/')) {
		snprintf(out, outlen, "%s", file);
		return;
	}
	if (!path)
		path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
	for (const char *dir = path;;) {
		const char *colon = strchrnul(dir, ':');
		size_t len = (size_t)(colon - dir);
		struct stat st;
		if (len == 0)
			snprintf(out, outlen, "%s", file);
		else
			snprintf(out, outlen, "%.*s/%s", (int)len, dir, file);
		if (stat(out, &st) == 0 && S_ISREG(st.st_mode)) {
			if (access(out, X_OK) == 0)
				return;
			saved = EACCES;
		}
		if (*colon == '\0')
			break;
		dir = colon + 1;
	}
	die_errno(saved, "exec", file);
}

/*
 * The pty of a TTY container or exec, from the devpts instance mounted at /dev/pts of the
 * container (a pty of the host's devpts is no terminal inside the container): the master goes
 * to the shim, the peer becomes the controlling terminal on 0-2.
 */
static void setup_tty(const struct plan *plan)
{
	struct winsize ws = { .ws_row = plan->tty_rows, .ws_col = plan->tty_cols };
	struct stat st;
	int unlock = 0, master, peer;

	master = open("/dev/pts/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC | O_NOFOLLOW);
	if (master < 0)
		die("open pty master", "/dev/pts/ptmx");
	/* An exec trusts nothing the container may have put at that path. */
	if (fstat(master, &st) < 0 || !S_ISCHR(st.st_mode) || major(st.st_rdev) != 5 || minor(st.st_rdev) != 2)
		die_errno(ENOTTY, "open pty master", "/dev/pts/ptmx");
	if (ioctl(master, TIOCSPTLCK, &unlock) < 0)
		die("unlock pty", "/dev/pts/ptmx");
	if (ioctl(master, TIOCSWINSZ, &ws) < 0)
		die("set terminal size", "/dev/pts/ptmx");
	peer = ioctl(master, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (peer < 0)
		die("open pty peer", "/dev/pts/ptmx");
	/* Like runc: the user may reopen its own terminal (devpts made it root's, group tty). */
	if (plan->has_user && fchown(peer, plan->uid, (gid_t)-1) < 0)
		die("chown pty", NULL);
	if (sync_send_fd(sync_fd, SYNC_TTY, master) < 0)
		_exit(1);
	close(master);
	if (ioctl(peer, TIOCSCTTY, 0) < 0)
		die("set controlling terminal", NULL);
	for (int i = 0; i < 3; i++)
		if (dup2(peer, i) < 0)
			die("dup2 pty", NULL);
	if (peer > 2)
		close(peer);
}

/* The common end of pid 1 and of an exec: everything from rlimits to execve. */
static void __attribute__((noreturn)) finish_and_exec(const struct plan *plan, int cwd_fd)
{
	char cwd[PATH_MAX], program[PATH_MAX];
	struct sync_msg msg;

	if (plan->tty)
		setup_tty(plan);
	apply_rlimits(plan);
	apply_identity(plan);

	/* After setresuid, so that the user needs search permission like with a plain chdir. */
	if (cwd_fd >= 0) {
		if (fchdir(cwd_fd) < 0)
			die("chdir", plan->cwd);
		close(cwd_fd);
	} else if (chdir(plan->cwd ? plan->cwd : "/") < 0) {
		die("chdir", plan->cwd);
	}
	if (!getcwd(cwd, sizeof(cwd)) || cwd[0] != '/')
		die_errno(EPERM, "working directory is outside the container", plan->cwd);
	/* A directory reached through a descriptor (e.g. -w /proc/self/fd/N) can name a path outside
	 * the root that getcwd still prints whole; the path must lead back to this very directory
	 * (CVE-2024-21626 class). EACCES: the path exists but the user may not search it. */
	{
		struct stat here, named;

		if (stat(".", &here) < 0 ||
		    (stat(cwd, &named) < 0 ? errno != EACCES : here.st_dev != named.st_dev || here.st_ino != named.st_ino))
			die_errno(EPERM, "working directory is outside the container", plan->cwd);
	}
	if (plan->no_new_privs && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		die("set no_new_privs", NULL);
	umask(plan->umask);
	if (close_range_fds(3, ~0U, CLOSE_RANGE_CLOEXEC) < 0)
		die("set close-on-exec", NULL);
	find_program(plan, program, sizeof(program));
	if (plan->attach_hold) {
		/* Everything that can fail has been done; wait until the first client is attached. */
		if (sync_send(sync_fd, SYNC_READY, 0) < 0)
			_exit(1);
		if (sync_recv(sync_fd, &msg) <= 0 || msg.type != SYNC_START)
			_exit(1);
	}
	if (sync_send(sync_fd, SYNC_EXEC, 0) < 0)
		_exit(1);
	/* The last step: after it only execve runs (or, if it fails, the report of the failure). */
	if (plan->seccomp) {
		struct sock_fprog prog = { .len = (unsigned short)plan->nseccomp, .filter = plan->seccomp };
		if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, plan->seccomp_flags, &prog) < 0)
			die("load seccomp filter", NULL);
	}
	execve(program, plan->argv, plan->env);
	die("exec", program);
}

/*
 * A single thread that moves itself ("0" to a v1 "tasks" file) is the one migration the kernel
 * does without its global cgroup_threadgroup_rwsem; pid 1 has one thread here. The descriptors
 * were opened by the shim (as host root, which is what the kernel checks, also in a user
 * namespace) and are closed before anything of the container runs.
 */
static void join_own_cgroups(const struct plan *plan)
{
	for (size_t i = 0; i < plan->ncgroups; i++) {
		if (plan->cgroup_tasks[i] < 0)
			continue;
		if (write(plan->cgroup_tasks[i], "0", 1) != 1)
			die("join cgroup", plan->cgroups[i]);
		close(plan->cgroup_tasks[i]);
	}
}

/*
 * Forks pid 1 (or an exec's process) straight into the plan's v2 cgroup, which takes no migration
 * at all. *cloned_into says whether it did; on a kernel without clone3 or CLONE_INTO_CGROUP
 * (before 5.7; refused before any process is made) it forks and the shim moves the process in
 * from outside. Any other failure is the caller's to report: the first process of a new pid
 * namespace that failed to fork leaves the namespace unable to get another.
 */
static pid_t fork_into_cgroup(const struct plan *plan, int *cloned_into)
{
	*cloned_into = 0;
	if (plan->cgroup_into >= 0) {
		struct clone_args args;
		long pid;

		memset(&args, 0, sizeof(args));
		args.flags = CLONE_INTO_CGROUP;
		args.exit_signal = SIGCHLD;
		args.cgroup = (uint64_t)plan->cgroup_into;
		pid = syscall(SYS_clone3, &args, sizeof(args));
		if (pid >= 0) {
			*cloned_into = 1;
			return (pid_t)pid;
		}
		if (errno != ENOSYS && errno != E2BIG && errno != EINVAL)
			die("fork into cgroup", plan->cgroups[plan->cgroup_into_index]);
	}
	return fork();
}

static void __attribute__((noreturn)) stage2(const struct plan *plan, const int stdio_fds[3])
{
	struct sync_msg msg;
	int cwd_fd;

	if (sync_recv(sync_fd, &msg) <= 0 || msg.type != SYNC_GO)
		_exit(1);
	join_own_cgroups(plan);
	setup_stdio(stdio_fds);
	/* Its own session: a TTY's controlling process, and apart from the shim's process group. */
	if (setsid() < 0)
		die("setsid", NULL);
	umask(0); /* device nodes and directories get exactly the planned modes */
	/* After joining our cgroups, so that the container sees its own cgroup as "/". */
	if ((plan->ns_create & CLONE_NEWCGROUP) && unshare(CLONE_NEWCGROUP) < 0)
		die("unshare cgroup namespace", NULL);

	rootfs_setup(plan, &cwd_fd);

	if (plan->hostname && sethostname(plan->hostname, strlen(plan->hostname)) < 0)
		die("sethostname", plan->hostname);
	if (plan->domainname && setdomainname(plan->domainname, strlen(plan->domainname)) < 0)
		die("setdomainname", plan->domainname);
	if (plan->loopback_up)
		loopback_up();
	finish_and_exec(plan, cwd_fd);
}

/* The exec process: already in the container's namespaces (its root is the container's root). */
static void __attribute__((noreturn)) exec_stage2(const struct plan *plan, const int stdio_fds[3])
{
	struct sync_msg msg;

	if (sync_recv(sync_fd, &msg) <= 0 || msg.type != SYNC_GO)
		_exit(1);
	join_own_cgroups(plan);
	setup_stdio(stdio_fds);
	if (setsid() < 0)
		die("setsid", NULL);
	finish_and_exec(plan, -1);
}

void exec_stage1(const struct plan *plan, int fd, const int stdio_fds[3], int pidfd, int ns_flags)
{
	int cloned_into;
	pid_t pid;

	sync_init(fd);
	reset_signals();
	/* Not ptrace-able by the container's processes while it holds the shim's descriptors
	 * (CVE-2016-9962 class); execve makes it dumpable again. */
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
		die("set non-dumpable", NULL);
	/* All at once through the pidfd (Linux 5.8): either every namespace or none. */
	if (setns(pidfd, ns_flags) < 0)
		die(errno == ESRCH ? "container is not running" : "join the container's namespaces", NULL);
	close(pidfd);
	/* setns of a pid namespace applies to children: this fork is the container's process. */
	pid = fork_into_cgroup(plan, &cloned_into);
	if (pid < 0)
		die("fork exec process", NULL);
	if (pid == 0)
		exec_stage2(plan, stdio_fds);
	sync_send(sync_fd, cloned_into ? SYNC_PID_IN_CGROUP : SYNC_PID, pid);
	_exit(0);
}

void container_stage1(const struct plan *plan, int fd, const int stdio_fds[3])
{
	struct sync_msg msg;
	int cloned_into;
	pid_t pid;

	sync_init(fd);
	reset_signals();
	join_namespaces(plan);
	if (plan->ns_create & CLONE_NEWUSER) {
		if (unshare(CLONE_NEWUSER) < 0)
			die("unshare user namespace", NULL);
		if (sync_send(sync_fd, SYNC_USERNS_READY, 0) < 0 || sync_recv(sync_fd, &msg) <= 0 ||
		    msg.type != SYNC_MAPS_DONE)
			_exit(1);
		/* Become the namespace's root, so that what we create is owned by a mapped id. */
		if (setresgid(0, 0, 0) < 0 || setresuid(0, 0, 0) < 0)
			die("become root of the user namespace", NULL);
	}
	if (unshare(plan->ns_create & ~(CLONE_NEWUSER | CLONE_NEWCGROUP)) < 0)
		die("unshare namespaces", NULL);
	pid = fork_into_cgroup(plan, &cloned_into);
	if (pid < 0)
		die("fork pid 1", NULL);
	if (pid == 0)
		stage2(plan, stdio_fds);
	sync_send(sync_fd, cloned_into ? SYNC_PID_IN_CGROUP : SYNC_PID, pid);
	_exit(0);
}
