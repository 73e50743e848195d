/*
 * skiff-shim: executes a container plan written by the agent, then stays as
 * the container's supervisor. All policy is decided in TypeScript
 * (host-agent/src/shim); this program only carries the plan out.
 * The plan format is described in PLAN-FORMAT.md.
 */
#ifndef SKIFF_SHIM_H
#define SKIFF_SHIM_H

#define _GNU_SOURCE
#include <linux/filter.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/resource.h>
#include <time.h>

struct pollfd;

#define SHIM_VERSION "1"
#define PLAN_VERSION 1

/* STDIO_LOG: a pipe (or the pty) the shim reads, for the json-file log and attach clients;
 * STDIO_ATTACH (stdin only): a pipe the shim writes attach clients' input into. */
enum stdio_kind { STDIO_NULL, STDIO_FD, STDIO_LOG, STDIO_ATTACH };

/* run: create a container; exec: enter a running one. */
enum plan_mode { PLAN_RUN, PLAN_EXEC };

struct stdio_plan {
	enum stdio_kind kind;
	int fd;
};

enum rootfs_kind { ROOTFS_NONE, ROOTFS_OVERLAY, ROOTFS_BIND };

struct mount_plan {
	char *type;   /* "bind", "remount" or a filesystem type */
	char *source;
	char *target; /* path inside the container */
	char *data;   /* may be NULL */
	unsigned long flags;
	unsigned long propagation;
};

struct device_plan {
	char *path;      /* path inside the container */
	mode_t type;     /* S_IFCHR or S_IFBLK */
	unsigned major, minor;
	mode_t mode;
	uid_t uid;
	gid_t gid;
	char *host_path; /* bound instead of mknod inside a user namespace; may be NULL */
};

struct symlink_plan {
	char *path;
	char *target;
};

struct id_map {
	unsigned long inside, outside, count;
};

struct rlimit_plan {
	int resource;
	struct rlimit limit;
};

struct ns_join {
	int flag; /* CLONE_NEW* */
	char *path;
};

struct plan {
	char *state_dir;
	char *log_path;

	int ns_create; /* CLONE_NEW* flags */
	struct ns_join *joins;
	size_t njoins;
	struct id_map *uid_maps, *gid_maps;
	size_t nuid_maps, ngid_maps;

	enum rootfs_kind rootfs_kind;
	char *rootfs_target; /* host directory where the root is mounted */
	char *rootfs_source; /* ROOTFS_BIND */
	char *upper, *work;  /* ROOTFS_OVERLAY */
	char **lower;
	size_t nlower;
	unsigned long root_propagation;
	int rootfs_readonly;

	struct mount_plan *mounts;
	size_t nmounts;
	struct device_plan *devices;
	size_t ndevices;
	struct symlink_plan *symlinks;
	size_t nsymlinks;
	char **masked;
	size_t nmasked;
	char **readonly;
	size_t nreadonly;

	char *hostname;
	char *domainname;
	int loopback_up;

	char **cgroups; /* host directories pid 1 joins */
	size_t ncgroups;
	/* Set by the shim before the setup processes fork (not in the plan file). Neither way of joining
	 * takes the kernel's global migration lock, whose first use after a quiet moment waits out an
	 * RCU grace period (5-18 ms measured here); moving pid 1 in from outside did. */
	int *cgroup_tasks; /* per cgroups[i]: its v1 "tasks" file, to which pid 1 writes "0", else -1 */
	int cgroup_into;   /* a v2 cgroup pid 1 is cloned into (clone3 CLONE_INTO_CGROUP), else -1 */
	int cgroup_into_index; /* its index in cgroups */
	char *oom_events; /* memory.oom_control (v1) or memory.events (v2) */

	int has_caps;
	uint64_t cap_bounding, cap_effective, cap_permitted, cap_inheritable, cap_ambient;
	struct rlimit_plan *rlimits;
	size_t nrlimits;
	int has_user;
	uid_t uid;
	gid_t gid;
	gid_t *groups;
	size_t ngroups;
	int has_groups;
	char *cwd;
	char **env;  /* NULL-terminated */
	size_t nenv;
	char **argv; /* NULL-terminated */
	size_t nargv;
	int no_new_privs;
	struct sock_filter *seccomp; /* loaded right before execve; NULL: none */
	size_t nseccomp;
	unsigned long seccomp_flags;
	mode_t umask;

	struct stdio_plan stdio[3];

	char *attach_socket; /* unix socket for attach clients; NULL: none */
	int attach_hold;     /* pid 1 waits before execve until a client sends "start" */
	int stdin_once;      /* a stdin client that goes away closes the container's stdin */
	int tty;             /* pid 1 gets a pty from the container's devpts on 0-2 */
	unsigned short tty_rows, tty_cols;

	pid_t exec_pid;      /* PLAN_EXEC: the container's pid 1 and its shim */
	pid_t exec_shim_pid;
};

/* plan.c */
/* Parses a plan; on failure returns -1 and writes a message into err. */
int plan_parse(char *text, size_t len, enum plan_mode mode, struct plan *plan, char *err, size_t errlen);

/*
 * The channel between the supervisor and the container's setup processes is
 * a SOCK_SEQPACKET socketpair (close-on-exec), so each message arrives whole,
 * EOF means every setup process has exec'd or died, and a pty master can
 * later be passed back with SCM_RIGHTS.
 */
enum sync_type {
	SYNC_USERNS_READY = 1, /* stage 1 -> shim: write my uid/gid maps */
	SYNC_MAPS_DONE,        /* shim -> stage 1 */
	SYNC_PID,              /* stage 1 -> shim: value is pid 1's host pid */
	SYNC_GO,               /* shim -> pid 1: the shim's cgroup joins are done, carry on */
	SYNC_EXEC,             /* pid 1 -> shim: about to execve */
	SYNC_ERROR,            /* either -> shim: a step failed */
	SYNC_TTY,              /* pid 1 -> shim: the pty master, passed with SCM_RIGHTS */
	SYNC_READY,            /* pid 1 -> shim: set up, waiting for SYNC_START (attach-hold) */
	SYNC_START,            /* shim -> pid 1: an attach client said "start": execve now */
	SYNC_PID_IN_CGROUP,    /* like SYNC_PID, and pid 1 was cloned into the plan's cgroup_into */
};

struct sync_msg {
	int32_t type;
	int32_t err;
	int64_t value;
	char step[64];
	char path[4096];
};

/* container.c: the processes that become the container. Never return. */
void container_stage1(const struct plan *plan, int sync_fd, const int stdio_fds[3]) __attribute__((noreturn));
/* The same for exec: joins the namespaces of the process pidfd names (setns flags), then forks. */
void exec_stage1(const struct plan *plan, int sync_fd, const int stdio_fds[3], int pidfd, int ns_flags)
	__attribute__((noreturn));

/* rootfs.c */
void rootfs_setup(const struct plan *plan, int *cwd_fd);

/* Reports "step: errno: path" to the supervisor and exits; used by the setup processes. */
void die(const char *step, const char *path) __attribute__((noreturn));
void die_errno(int err, const char *step, const char *path) __attribute__((noreturn));
void sync_init(int fd);
int sync_send(int fd, int type, int64_t value);
int sync_recv(int fd, struct sync_msg *msg);
/* Like sync_recv; a descriptor that came with the message lands in *passed (else -1). */
int sync_recv_fd(int fd, struct sync_msg *msg, int *passed);

/* jsonlog.c: Docker's json-file log format */
struct json_log;
struct json_log *json_log_open(int fd);
void json_log_feed(struct json_log *log, int stream, const char *data, size_t len);
void json_log_flush(struct json_log *log, int stream);
void format_rfc3339nano(char *out, size_t outlen, const struct timespec *ts);
/* Writes a JSON string body (no quotes) of in; out must hold 6 * len bytes. */
size_t json_escape(char *out, const char *in, size_t len);

/* attach.c: the attach socket (protocol in PLAN-FORMAT.md). */
struct attach;
struct attach_hooks {
	void *ctx;
	void (*start)(void *ctx); /* a client sent "start" */
};
/* Binds and listens on path (any length: bound relative to its directory), mode 0600. */
struct attach *attach_open(const char *path, const struct attach_hooks *hooks);
/* What the hello frame tells clients, and where input and resizes go (-1: nowhere). */
void attach_configure(struct attach *a, pid_t pid, int tty, int input_fd, int winsize_fd, int stdin_once);
void attach_set_running(struct attach *a, int running);
/* Output for every client: type 1 stdout, 2 stderr, 3 an error message from the shim. */
void attach_broadcast(struct attach *a, int type, const char *data, size_t len);
/* True when a client has so much queued that the shim should stop reading the container's output. */
int attach_backlogged(const struct attach *a);
/* poll(2) integration: adds the attach descriptors to fds (at most max), handles their events. */
size_t attach_poll_add(struct attach *a, struct pollfd *fds, size_t max);
void attach_poll_handle(struct attach *a, const struct pollfd *fds, size_t n);
/* After the exit: removes the socket, sends every client the exit frame and the rest of its
 * output (for at most timeout_ms), closes them. */
void attach_finish(struct attach *a, const char *exit_json, int timeout_ms);

void shim_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
