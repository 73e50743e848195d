/* Parser of the line-oriented plan format (PLAN-FORMAT.md). Strings point into the text buffer. */
#include "shim.h"

#include <errno.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define MAX_FIELDS 512

struct parser {
	char *err;
	size_t errlen;
	size_t line;
};

static int fail(struct parser *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(struct parser *p, const char *fmt, ...)
{
	va_list ap;
	int n = snprintf(p->err, p->errlen, "line %zu: ", p->line);
	va_start(ap, fmt);
	if (n >= 0 && (size_t)n < p->errlen)
		vsnprintf(p->err + n, p->errlen - (size_t)n, fmt, ap);
	va_end(ap);
	return -1;
}

static void *grow(void *array, size_t count, size_t size)
{
	void *bigger = realloc(array, (count + 1) * size);
	if (!bigger) {
		fprintf(stderr, "skiff-shim: out of memory\n");
		exit(1);
	}
	return bigger;
}

#define PUSH(array, count) ((array) = grow((array), (count), sizeof(*(array))), &(array)[(count)++])

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Decodes %XX in place; a field that is exactly "%" is the empty string. */
static int unescape(struct parser *p, char *field)
{
	char *in = field, *out = field;
	if (strcmp(field, "%") == 0) {
		field[0] = '\0';
		return 0;
	}
	while (*in) {
		if (*in == '%') {
			int hi = hexval(in[1]), lo = hi < 0 ? -1 : hexval(in[2]);
			if (hi < 0 || lo < 0)
				return fail(p, "bad %%-escape in field '%s'", field);
			if (hi == 0 && lo == 0)
				return fail(p, "NUL byte in field");
			*out++ = (char)(hi * 16 + lo);
			in += 3;
		} else {
			*out++ = *in++;
		}
	}
	*out = '\0';
	return 0;
}

static int number(struct parser *p, const char *field, unsigned long long max, unsigned long long *value)
{
	char *end;
	errno = 0;
	if (field[0] == '-' || field[0] == '\0')
		return fail(p, "'%s' is not a number", field);
	*value = strtoull(field, &end, 0);
	if (errno || *end != '\0' || *value > max)
		return fail(p, "'%s' is not a number in range", field);
	return 0;
}

#define NUM(field, max, dest)                                   \
	do {                                                    \
		unsigned long long v_;                          \
		if (number(p, (field), (max), &v_) < 0)         \
			return -1;                              \
		(dest) = v_;                                    \
	} while (0)

static int ns_flag(struct parser *p, const char *name, int *flag)
{
	static const struct {
		const char *name;
		int flag;
	} kinds[] = {
		{ "pid", CLONE_NEWPID }, { "mount", CLONE_NEWNS }, { "uts", CLONE_NEWUTS },
		{ "ipc", CLONE_NEWIPC }, { "net", CLONE_NEWNET },  { "cgroup", CLONE_NEWCGROUP },
		{ "user", CLONE_NEWUSER },
	};
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		if (strcmp(kinds[i].name, name) == 0) {
			*flag = kinds[i].flag;
			return 0;
		}
	}
	return fail(p, "unknown namespace '%s'", name);
}

static int stdio_field(struct parser *p, char **f, size_t n, struct stdio_plan *s)
{
	if (n == 2 && strcmp(f[1], "attach") == 0) {
		s->kind = STDIO_ATTACH;
		return 0;
	}
	if (n == 2 && strcmp(f[1], "null") == 0) {
		s->kind = STDIO_NULL;
		return 0;
	}
	if (n == 2 && strcmp(f[1], "log") == 0) {
		s->kind = STDIO_LOG;
		return 0;
	}
	if (n == 3 && strcmp(f[1], "fd") == 0) {
		s->kind = STDIO_FD;
		NUM(f[2], 1 << 20, s->fd);
		return 0;
	}
	return fail(p, "%s wants 'null', 'log', 'attach' or 'fd N'", f[0]);
}

/* BPF_MAXINSNS of linux/bpf_common.h. */
#define SECCOMP_MAX_INSNS 4096

/* A program is 16 hex digits an instruction: code (4), jt (2), jf (2), k (8). */
static int seccomp_program(struct parser *p, const char *text, struct plan *plan)
{
	size_t len = strlen(text), n = len / 16;
	if (len == 0 || len % 16 != 0 || n > SECCOMP_MAX_INSNS)
		return fail(p, "seccomp program must be 1 to %d instructions of 16 hex digits", SECCOMP_MAX_INSNS);
	plan->seccomp = calloc(n, sizeof(*plan->seccomp));
	if (!plan->seccomp) {
		fprintf(stderr, "skiff-shim: out of memory\n");
		exit(1);
	}
	for (size_t i = 0; i < n; i++) {
		unsigned long long v = 0;
		for (size_t j = 0; j < 16; j++) {
			int digit = hexval(text[i * 16 + j]);
			if (digit < 0)
				return fail(p, "seccomp program has a non-hex digit in instruction %zu", i);
			v = v << 4 | (unsigned)digit;
		}
		plan->seccomp[i].code = (uint16_t)(v >> 48);
		plan->seccomp[i].jt = (uint8_t)(v >> 40);
		plan->seccomp[i].jf = (uint8_t)(v >> 32);
		plan->seccomp[i].k = (uint32_t)v;
	}
	plan->nseccomp = n;
	return 0;
}

static int rlimit_value(struct parser *p, const char *field, rlim_t *value)
{
	if (strcmp(field, "unlimited") == 0) {
		*value = RLIM_INFINITY;
		return 0;
	}
	NUM(field, ~0ULL, *value);
	return 0;
}

#define ARITY(min, max)                                                                      \
	do {                                                                                 \
		if (n < (min) || n > (max))                                                  \
			return fail(p, "'%s' takes %d to %d fields, got %zu", key, (min) - 1, \
				    (max) - 1, n - 1);                                       \
	} while (0)

static int record(struct parser *p, struct plan *plan, char **f, size_t n)
{
	const char *key = f[0];

	if (strcmp(key, "state-dir") == 0) {
		ARITY(2, 2);
		plan->state_dir = f[1];
	} else if (strcmp(key, "log-path") == 0) {
		ARITY(2, 2);
		plan->log_path = f[1];
	} else if (strcmp(key, "namespace") == 0) {
		int flag = 0;
		ARITY(2, 2);
		if (ns_flag(p, f[1], &flag) < 0)
			return -1;
		plan->ns_create |= flag;
	} else if (strcmp(key, "namespace-join") == 0) {
		struct ns_join *j;
		int flag = 0;
		ARITY(3, 3);
		if (ns_flag(p, f[1], &flag) < 0)
			return -1;
		j = PUSH(plan->joins, plan->njoins);
		j->flag = flag;
		j->path = f[2];
	} else if (strcmp(key, "uid-map") == 0 || strcmp(key, "gid-map") == 0) {
		struct id_map *m = key[0] == 'u' ? PUSH(plan->uid_maps, plan->nuid_maps)
						 : PUSH(plan->gid_maps, plan->ngid_maps);
		ARITY(4, 4);
		NUM(f[1], UINT32_MAX, m->inside);
		NUM(f[2], UINT32_MAX, m->outside);
		NUM(f[3], UINT32_MAX, m->count);
	} else if (strcmp(key, "rootfs-overlay") == 0) {
		ARITY(5, MAX_FIELDS);
		plan->rootfs_kind = ROOTFS_OVERLAY;
		plan->rootfs_target = f[1];
		plan->upper = f[2];
		plan->work = f[3];
		for (size_t i = 4; i < n; i++)
			*PUSH(plan->lower, plan->nlower) = f[i];
	} else if (strcmp(key, "rootfs-bind") == 0) {
		ARITY(3, 3);
		plan->rootfs_kind = ROOTFS_BIND;
		plan->rootfs_target = f[1];
		plan->rootfs_source = f[2];
	} else if (strcmp(key, "root-propagation") == 0) {
		ARITY(2, 2);
		NUM(f[1], ~0UL, plan->root_propagation);
	} else if (strcmp(key, "rootfs-readonly") == 0) {
		ARITY(1, 1);
		plan->rootfs_readonly = 1;
	} else if (strcmp(key, "mount") == 0) {
		struct mount_plan *m;
		ARITY(6, 7);
		m = PUSH(plan->mounts, plan->nmounts);
		m->type = f[1];
		m->source = f[2];
		m->target = f[3];
		NUM(f[4], ~0UL, m->flags);
		NUM(f[5], ~0UL, m->propagation);
		m->data = n == 7 ? f[6] : NULL;
	} else if (strcmp(key, "device") == 0) {
		struct device_plan *d;
		ARITY(8, 9);
		d = PUSH(plan->devices, plan->ndevices);
		d->path = f[1];
		if (strcmp(f[2], "c") == 0)
			d->type = S_IFCHR;
		else if (strcmp(f[2], "b") == 0)
			d->type = S_IFBLK;
		else
			return fail(p, "device type must be 'c' or 'b', got '%s'", f[2]);
		NUM(f[3], 0xfff, d->major);
		NUM(f[4], 0xfffff, d->minor);
		NUM(f[5], 07777, d->mode);
		NUM(f[6], UINT32_MAX, d->uid);
		NUM(f[7], UINT32_MAX, d->gid);
		d->host_path = n == 9 ? f[8] : NULL;
	} else if (strcmp(key, "symlink") == 0) {
		struct symlink_plan *s;
		ARITY(3, 3);
		s = PUSH(plan->symlinks, plan->nsymlinks);
		s->path = f[1];
		s->target = f[2];
	} else if (strcmp(key, "masked-path") == 0) {
		ARITY(2, 2);
		*PUSH(plan->masked, plan->nmasked) = f[1];
	} else if (strcmp(key, "readonly-path") == 0) {
		ARITY(2, 2);
		*PUSH(plan->readonly, plan->nreadonly) = f[1];
	} else if (strcmp(key, "hostname") == 0) {
		ARITY(2, 2);
		plan->hostname = f[1];
	} else if (strcmp(key, "domainname") == 0) {
		ARITY(2, 2);
		plan->domainname = f[1];
	} else if (strcmp(key, "loopback-up") == 0) {
		ARITY(1, 1);
		plan->loopback_up = 1;
	} else if (strcmp(key, "cgroup") == 0) {
		ARITY(2, 2);
		*PUSH(plan->cgroups, plan->ncgroups) = f[1];
	} else if (strcmp(key, "oom-events") == 0) {
		ARITY(2, 2);
		plan->oom_events = f[1];
	} else if (strcmp(key, "capabilities") == 0) {
		ARITY(6, 6);
		plan->has_caps = 1;
		NUM(f[1], ~0ULL, plan->cap_bounding);
		NUM(f[2], ~0ULL, plan->cap_effective);
		NUM(f[3], ~0ULL, plan->cap_permitted);
		NUM(f[4], ~0ULL, plan->cap_inheritable);
		NUM(f[5], ~0ULL, plan->cap_ambient);
	} else if (strcmp(key, "rlimit") == 0) {
		struct rlimit_plan *r;
		ARITY(4, 4);
		r = PUSH(plan->rlimits, plan->nrlimits);
		NUM(f[1], RLIM_NLIMITS - 1, r->resource);
		if (rlimit_value(p, f[2], &r->limit.rlim_cur) < 0 || rlimit_value(p, f[3], &r->limit.rlim_max) < 0)
			return -1;
	} else if (strcmp(key, "user") == 0) {
		ARITY(3, 3);
		plan->has_user = 1;
		NUM(f[1], UINT32_MAX - 1, plan->uid);
		NUM(f[2], UINT32_MAX - 1, plan->gid);
	} else if (strcmp(key, "groups") == 0) {
		plan->has_groups = 1;
		for (size_t i = 1; i < n; i++)
			NUM(f[i], UINT32_MAX - 1, *PUSH(plan->groups, plan->ngroups));
	} else if (strcmp(key, "cwd") == 0) {
		ARITY(2, 2);
		plan->cwd = f[1];
	} else if (strcmp(key, "env") == 0) {
		ARITY(2, 2);
		*PUSH(plan->env, plan->nenv) = f[1];
	} else if (strcmp(key, "arg") == 0) {
		ARITY(2, 2);
		*PUSH(plan->argv, plan->nargv) = f[1];
	} else if (strcmp(key, "no-new-privileges") == 0) {
		ARITY(1, 1);
		plan->no_new_privs = 1;
	} else if (strcmp(key, "seccomp") == 0) {
		ARITY(3, 3);
		if (plan->seccomp)
			return fail(p, "more than one seccomp record");
		NUM(f[1], UINT32_MAX, plan->seccomp_flags);
		return seccomp_program(p, f[2], plan);
	} else if (strcmp(key, "umask") == 0) {
		ARITY(2, 2);
		NUM(f[1], 0777, plan->umask);
	} else if (strcmp(key, "attach-socket") == 0) {
		ARITY(2, 2);
		if (f[1][0] != '/')
			return fail(p, "attach-socket must be an absolute path");
		plan->attach_socket = f[1];
	} else if (strcmp(key, "attach-hold") == 0) {
		ARITY(1, 1);
		plan->attach_hold = 1;
	} else if (strcmp(key, "stdin-once") == 0) {
		ARITY(1, 1);
		plan->stdin_once = 1;
	} else if (strcmp(key, "tty") == 0) {
		ARITY(3, 3);
		plan->tty = 1;
		NUM(f[1], 0xffff, plan->tty_rows);
		NUM(f[2], 0xffff, plan->tty_cols);
	} else if (strcmp(key, "exec-in") == 0) {
		ARITY(3, 3);
		NUM(f[1], INT32_MAX, plan->exec_pid);
		NUM(f[2], INT32_MAX, plan->exec_shim_pid);
		if (plan->exec_pid <= 0 || plan->exec_shim_pid <= 0)
			return fail(p, "exec-in wants two pids");
	} else if (strcmp(key, "stdin") == 0) {
		return stdio_field(p, f, n, &plan->stdio[0]);
	} else if (strcmp(key, "stdout") == 0) {
		return stdio_field(p, f, n, &plan->stdio[1]);
	} else if (strcmp(key, "stderr") == 0) {
		return stdio_field(p, f, n, &plan->stdio[2]);
	} else {
		return fail(p, "unknown record '%s'", key);
	}
	return 0;
}

/* Records that build a container; an exec plan enters an existing one and may not have them. */
static int check_exec(struct parser *p, const struct plan *plan)
{
	if (plan->exec_pid <= 0)
		return fail(p, "an exec plan needs exec-in");
	if (plan->rootfs_kind != ROOTFS_NONE || plan->ns_create || plan->njoins || plan->nuid_maps ||
	    plan->ngid_maps || plan->nmounts || plan->ndevices || plan->nsymlinks || plan->nmasked ||
	    plan->nreadonly || plan->hostname || plan->domainname || plan->loopback_up || plan->rootfs_readonly)
		return fail(p, "an exec plan cannot create namespaces, filesystems or a hostname");
	return 0;
}

static int check_run(struct parser *p, const struct plan *plan)
{
	if (plan->exec_pid > 0)
		return fail(p, "exec-in is only for skiff-shim exec");
	if (plan->rootfs_kind == ROOTFS_NONE)
		return fail(p, "no rootfs-overlay or rootfs-bind");
	if (!(plan->ns_create & CLONE_NEWNS) || !(plan->ns_create & CLONE_NEWPID))
		return fail(p, "the mount and pid namespaces are required");
	if ((plan->ns_create & CLONE_NEWUSER) && (plan->nuid_maps == 0 || plan->ngid_maps == 0))
		return fail(p, "a user namespace needs uid-map and gid-map");
	return 0;
}

static int check(struct parser *p, enum plan_mode mode, struct plan *plan)
{
	if (!plan->state_dir)
		return fail(p, "no state-dir");
	if ((mode == PLAN_EXEC ? check_exec : check_run)(p, plan) < 0)
		return -1;
	if (plan->nargv == 0)
		return fail(p, "no arg");
	for (int i = 0; i < 3; i++)
		if (plan->stdio[i].kind == STDIO_LOG && !plan->log_path && !plan->attach_socket)
			return fail(p, "stdio 'log' without log-path or attach-socket");
	if (plan->stdio[0].kind == STDIO_LOG)
		return fail(p, "stdin cannot be 'log'");
	if (plan->stdio[1].kind == STDIO_ATTACH || plan->stdio[2].kind == STDIO_ATTACH)
		return fail(p, "only stdin can be 'attach'");
	if (plan->stdio[0].kind == STDIO_ATTACH && !plan->attach_socket)
		return fail(p, "stdin 'attach' without attach-socket");
	if ((plan->attach_hold || plan->stdin_once) && !plan->attach_socket)
		return fail(p, "attach-hold and stdin-once need attach-socket");
	if (plan->stdin_once && plan->stdio[0].kind != STDIO_ATTACH)
		return fail(p, "stdin-once needs stdin 'attach'");
	if (plan->tty && (plan->stdio[1].kind != STDIO_LOG || plan->stdio[2].kind != STDIO_LOG ||
			  (plan->stdio[0].kind != STDIO_NULL && plan->stdio[0].kind != STDIO_ATTACH)))
		return fail(p, "with a tty, stdout and stderr must be 'log' and stdin 'null' or 'attach'");
	*PUSH(plan->argv, plan->nargv) = NULL;
	plan->nargv--;
	*PUSH(plan->env, plan->nenv) = NULL;
	plan->nenv--;
	return 0;
}

int plan_parse(char *text, size_t len, enum plan_mode mode, struct plan *plan, char *err, size_t errlen)
{
	struct parser p = { .err = err, .errlen = errlen, .line = 0 };
	char *fields[MAX_FIELDS];
	char *line = text, *end = text + len;
	int seen_header = 0, seen_end = 0;

	memset(plan, 0, sizeof(*plan));
	plan->root_propagation = (1UL << 18) | (1UL << 14); /* MS_PRIVATE | MS_REC */
	plan->umask = 022;

	if (memchr(text, '\0', len))
		return fail(&p, "NUL byte in plan");
	while (line < end) {
		char *nl = memchr(line, '\n', (size_t)(end - line));
		size_t n = 0;
		char *cursor;
		p.line++;
		if (!nl)
			return fail(&p, "plan does not end with a newline");
		*nl = '\0';
		if (seen_end)
			return fail(&p, "text after 'end'");
		if (line[0] == '\0' || line[0] == '#') {
			line = nl + 1;
			continue;
		}
		for (cursor = line;;) {
			char *space = strchr(cursor, ' ');
			if (n == MAX_FIELDS)
				return fail(&p, "too many fields");
			if (space)
				*space = '\0';
			if (cursor[0] == '\0')
				return fail(&p, "empty field (use %% for an empty string)");
			if (unescape(&p, cursor) < 0)
				return -1;
			fields[n++] = cursor;
			if (!space)
				break;
			cursor = space + 1;
		}
		if (!seen_header) {
			unsigned long long version;
			if (strcmp(fields[0], "skiff-shim-plan") != 0 || n != 2)
				return fail(&p, "the plan must start with 'skiff-shim-plan %d'", PLAN_VERSION);
			if (number(&p, fields[1], 1000, &version) < 0)
				return -1;
			if (version != PLAN_VERSION)
				return fail(&p, "plan version %llu, this shim reads version %d", version, PLAN_VERSION);
			seen_header = 1;
		} else if (strcmp(fields[0], "end") == 0 && n == 1) {
			seen_end = 1;
		} else if (record(&p, plan, fields, n) < 0) {
			return -1;
		}
		line = nl + 1;
	}
	if (!seen_end)
		return fail(&p, "plan is truncated: no 'end'");
	return check(&p, mode, plan);
}
