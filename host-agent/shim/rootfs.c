/*
 * The container's root filesystem: rootfs mount, the planned mounts, device
 * nodes, masked and read-only paths, then pivot_root.
 *
 * Every path inside the container is resolved with openat2(RESOLVE_IN_ROOT),
 * so a symlink in the image (or one swapped in by another container sharing
 * a volume) is followed as if the rootfs were "/" and can never lead out of
 * it (CVE-2021-30465 class). Mounts land on the resolved file descriptor
 * (move_mount, or mount(2) through /proc/self/fd/N), never on a path that is
 * looked up a second time.
 */
#include "shim.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <linux/magic.h>
#include <unistd.h>

/* Kernel ABI (5.2+ for open_tree/move_mount, 5.6 openat2, 5.12 mount_setattr), declared here
 * so the shim builds against older libc headers too. */
#ifndef __NR_open_tree
#define __NR_open_tree 428
#endif
#ifndef __NR_move_mount
#define __NR_move_mount 429
#endif
#ifndef __NR_fsopen
#define __NR_fsopen 430
#endif
#ifndef __NR_fsconfig
#define __NR_fsconfig 431
#endif
#ifndef __NR_fsmount
#define __NR_fsmount 432
#endif
#ifndef __NR_openat2
#define __NR_openat2 437
#endif
#ifndef __NR_mount_setattr
#define __NR_mount_setattr 442
#endif

#define SHIM_OPEN_TREE_CLONE 1
#define SHIM_MOVE_MOUNT_F_EMPTY_PATH 0x04
#define SHIM_MOVE_MOUNT_T_EMPTY_PATH 0x40
#define SHIM_FSCONFIG_SET_FLAG 0
#define SHIM_FSCONFIG_SET_STRING 1
#define SHIM_FSCONFIG_CMD_CREATE 6
#define SHIM_MOUNT_ATTR_RDONLY 0x01
#define SHIM_MOUNT_ATTR_NOSUID 0x02
#define SHIM_MOUNT_ATTR_NODEV 0x04
#define SHIM_MOUNT_ATTR_NOEXEC 0x08
#define SHIM_MOUNT_ATTR__ATIME 0x70
#define SHIM_MOUNT_ATTR_RELATIME 0x00
#define SHIM_MOUNT_ATTR_NOATIME 0x10
#define SHIM_MOUNT_ATTR_STRICTATIME 0x20
#define SHIM_MOUNT_ATTR_NODIRATIME 0x80
#define SHIM_RESOLVE_NO_MAGICLINKS 0x02
#define SHIM_RESOLVE_NO_SYMLINKS 0x04
#define SHIM_RESOLVE_IN_ROOT 0x10

struct shim_open_how {
	uint64_t flags, mode, resolve;
};

struct shim_mount_attr {
	uint64_t attr_set, attr_clr, propagation, userns_fd;
};

static int in_userns;

static int open_tree_fd(int dirfd, const char *path, unsigned flags)
{
	return (int)syscall(__NR_open_tree, dirfd, path, flags | O_CLOEXEC);
}

static int move_mount_fd(int from, int to)
{
	return (int)syscall(__NR_move_mount, from, "", to, "",
			    SHIM_MOVE_MOUNT_F_EMPTY_PATH | SHIM_MOVE_MOUNT_T_EMPTY_PATH);
}

static int setattr_fd(int fd, int recursive, uint64_t set, uint64_t clr, uint64_t propagation)
{
	struct shim_mount_attr attr = { .attr_set = set, .attr_clr = clr, .propagation = propagation };
	return (int)syscall(__NR_mount_setattr, fd, "", AT_EMPTY_PATH | (recursive ? AT_RECURSIVE : 0), &attr,
			    sizeof(attr));
}

static const char *fd_path(int fd)
{
	static char buf[2][64];
	static int which;
	which ^= 1;
	snprintf(buf[which], sizeof(buf[which]), "/proc/self/fd/%d", fd);
	return buf[which];
}

/* openat2 in the container's root; EAGAIN means a rename raced the lookup, so retry. */
static int open_in_root(int rootfd, const char *path, uint64_t extra_resolve)
{
	struct shim_open_how how = {
		.flags = O_PATH | O_CLOEXEC,
		.resolve = SHIM_RESOLVE_IN_ROOT | SHIM_RESOLVE_NO_MAGICLINKS | extra_resolve,
	};
	for (int tries = 0; tries < 16; tries++) {
		int fd = (int)syscall(__NR_openat2, rootfd, path, &how, sizeof(how));
		if (fd >= 0 || errno != EAGAIN)
			return fd;
	}
	return -1;
}

static void drop_last_component(char *resolved)
{
	char *slash = strrchr(resolved, '/');
	if (slash)
		*slash = '\0';
	else
		resolved[0] = '\0';
}

/*
 * Opens path inside the root, creating what is missing (directories, and a
 * file as the last component unless want_dir). Symlinks met on the way,
 * dangling ones included, are followed as if rootfd were "/": an absolute
 * target restarts from the root and ".." never climbs above it. The walk
 * keeps a symlink-free path and reopens it with RESOLVE_NO_SYMLINKS, so a
 * symlink swapped in meanwhile makes the step fail instead of escaping.
 */
static int open_or_create(int rootfd, const char *path, int want_dir)
{
	char resolved[PATH_MAX] = "";
	char pending[PATH_MAX], scratch[PATH_MAX];
	const char *rest;
	int links = 0;
	int fd = open_in_root(rootfd, path, 0);

	if (fd >= 0 || errno != ENOENT)
		return fd;
	if (strlen(path) >= sizeof(pending)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	strcpy(pending, path);
	rest = pending;
	for (;;) {
		char comp[NAME_MAX + 1];
		const char *after, *next;
		size_t len;
		struct stat st;
		int dirfd, last;

		while (*rest == '/')
			rest++;
		if (*rest == '\0')
			break;
		after = strchrnul(rest, '/');
		len = (size_t)(after - rest);
		if (len > NAME_MAX) {
			errno = ENAMETOOLONG;
			return -1;
		}
		memcpy(comp, rest, len);
		comp[len] = '\0';
		for (next = after; *next == '/'; next++)
			;
		last = *next == '\0';
		if (strcmp(comp, ".") == 0) {
			rest = after;
			continue;
		}
		if (strcmp(comp, "..") == 0) {
			drop_last_component(resolved);
			rest = after;
			continue;
		}
		dirfd = open_in_root(rootfd, resolved[0] ? resolved : ".", SHIM_RESOLVE_NO_SYMLINKS);
		if (dirfd < 0)
			return -1;
		if (fstatat(dirfd, comp, &st, AT_SYMLINK_NOFOLLOW) < 0) {
			int made;
			if (errno != ENOENT) {
				close(dirfd);
				return -1;
			}
			if (last && !want_dir) {
				made = openat(dirfd, comp, O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0644);
				if (made >= 0)
					close(made);
			} else {
				made = mkdirat(dirfd, comp, 0755);
			}
			close(dirfd);
			if (made < 0 && errno == EEXIST)
				continue; /* raced with someone else: look again */
			if (made < 0)
				return -1;
		} else if (S_ISLNK(st.st_mode)) {
			struct statfs fs;
			ssize_t n;

			/* procfs links (/proc/<pid>/fd/N, cwd, root…) are magic: their text names a path in
			 * whatever root the target lives in, the host's included. Never follow one by name. */
			if (fstatfs(dirfd, &fs) == 0 && fs.f_type == PROC_SUPER_MAGIC) {
				close(dirfd);
				errno = ELOOP;
				return -1;
			}
			n = readlinkat(dirfd, comp, scratch, sizeof(scratch) - 1);
			close(dirfd);
			if (n < 0)
				return -1;
			if (++links > 40) {
				errno = ELOOP;
				return -1;
			}
			scratch[n] = '\0';
			if (scratch[0] == '/')
				resolved[0] = '\0';
			if ((size_t)n + 1 + strlen(after) >= sizeof(scratch)) {
				errno = ENAMETOOLONG;
				return -1;
			}
			strcat(scratch, "/");
			strcat(scratch, after);
			strcpy(pending, scratch);
			rest = pending;
			continue;
		} else {
			close(dirfd);
			if (!S_ISDIR(st.st_mode) && !last) {
				errno = ENOTDIR;
				return -1;
			}
		}
		if (strlen(resolved) + len + 2 > sizeof(resolved)) {
			errno = ENAMETOOLONG;
			return -1;
		}
		if (resolved[0])
			strcat(resolved, "/");
		strcat(resolved, comp);
		rest = after;
	}
	return open_in_root(rootfd, resolved[0] ? resolved : ".", SHIM_RESOLVE_NO_SYMLINKS);
}

/* Opens the parent directory of path (creating it) and returns the last component in *base. */
static int open_parent(int rootfd, const char *path, char *dir, size_t dirlen, const char **base)
{
	const char *slash = strrchr(path, '/');
	size_t len = slash ? (size_t)(slash - path) : 0;
	if (len >= dirlen) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(dir, path, len);
	dir[len] = '\0';
	*base = slash ? slash + 1 : path;
	if (**base == '\0') {
		errno = EINVAL;
		return -1;
	}
	return open_or_create(rootfd, len ? dir : "/", 1);
}

static uint64_t attrs_of(unsigned long flags, uint64_t *clr)
{
	uint64_t set = 0;
	*clr = 0;
	if (flags & MS_RDONLY)
		set |= SHIM_MOUNT_ATTR_RDONLY;
	if (flags & MS_NOSUID)
		set |= SHIM_MOUNT_ATTR_NOSUID;
	if (flags & MS_NODEV)
		set |= SHIM_MOUNT_ATTR_NODEV;
	if (flags & MS_NOEXEC)
		set |= SHIM_MOUNT_ATTR_NOEXEC;
	if (flags & MS_NODIRATIME)
		set |= SHIM_MOUNT_ATTR_NODIRATIME;
	if (flags & (MS_NOATIME | MS_STRICTATIME | MS_RELATIME)) {
		*clr |= SHIM_MOUNT_ATTR__ATIME;
		if (flags & MS_NOATIME)
			set |= SHIM_MOUNT_ATTR_NOATIME;
		else if (flags & MS_STRICTATIME)
			set |= SHIM_MOUNT_ATTR_STRICTATIME;
		else
			set |= SHIM_MOUNT_ATTR_RELATIME;
	}
	return set;
}

static void bind_mount(int rootfd, const struct mount_plan *m)
{
	int recursive = (m->flags & MS_REC) != 0;
	uint64_t clr, set = attrs_of(m->flags, &clr);
	struct stat st;
	int src, target, tree;

	src = open(m->source, O_PATH | O_CLOEXEC);
	if (src < 0 || fstat(src, &st) < 0)
		die("open bind source", m->source);
	target = open_or_create(rootfd, m->target, S_ISDIR(st.st_mode));
	if (target < 0)
		die("create bind target", m->target);
	/* A detached copy gets its flags before it becomes visible: a read-only bind is never writable. */
	tree = open_tree_fd(src, "", SHIM_OPEN_TREE_CLONE | AT_EMPTY_PATH | (recursive ? AT_RECURSIVE : 0));
	if (tree < 0)
		die("bind", m->source);
	if ((set || clr) && setattr_fd(tree, recursive, set, clr, 0) < 0)
		die("set bind mount flags", m->target);
	if (move_mount_fd(tree, target) < 0)
		die("bind", m->target);
	if (m->propagation && mount(NULL, fd_path(tree), NULL, m->propagation, NULL) < 0)
		die("set mount propagation", m->target);
	close(tree);
	close(target);
	close(src);
}

static void remount(int rootfd, const struct mount_plan *m)
{
	uint64_t clr, set = attrs_of(m->flags, &clr);
	int target = open_in_root(rootfd, m->target, 0);
	if (target < 0)
		die("open remount target", m->target);
	if (setattr_fd(target, (m->flags & MS_REC) != 0, set, clr, 0) < 0)
		die("remount", m->target);
	if (m->propagation && mount(NULL, fd_path(target), NULL, m->propagation, NULL) < 0)
		die("set mount propagation", m->target);
	close(target);
}

static void fs_mount(int rootfd, const struct mount_plan *m)
{
	char step[64];
	int target = open_or_create(rootfd, m->target, 1);
	if (target < 0)
		die("create mount target", m->target);
	snprintf(step, sizeof(step), "mount %s", m->type);
	if (mount(m->source, fd_path(target), m->type, m->flags, m->data) < 0)
		die(step, m->target);
	close(target);
	if (m->propagation) {
		/* Reopen: the old descriptor names the directory under the new mount. */
		target = open_in_root(rootfd, m->target, 0);
		if (target < 0 || mount(NULL, fd_path(target), NULL, m->propagation, NULL) < 0)
			die("set mount propagation", m->target);
		close(target);
	}
}

static void make_device(int rootfd, const struct device_plan *d)
{
	char dir[PATH_MAX];
	const char *base;
	int parent = open_parent(rootfd, d->path, dir, sizeof(dir), &base);
	if (parent < 0)
		die("create device directory", d->path);
	if (in_userns) {
		/* mknod is refused inside a user namespace: bind the host's node instead. */
		const char *host = d->host_path ? d->host_path : d->path;
		int file, target, tree;
		file = openat(parent, base, O_CREAT | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0);
		if (file < 0)
			die("create device bind target", d->path);
		close(file);
		target = openat(parent, base, O_PATH | O_NOFOLLOW | O_CLOEXEC);
		tree = open_tree_fd(AT_FDCWD, host, SHIM_OPEN_TREE_CLONE);
		if (target < 0 || tree < 0 || move_mount_fd(tree, target) < 0)
			die("bind device", host);
		close(tree);
		close(target);
	} else {
		if (mknodat(parent, base, d->type | d->mode, makedev(d->major, d->minor)) < 0) {
			if (errno != EEXIST || unlinkat(parent, base, 0) < 0 ||
			    mknodat(parent, base, d->type | d->mode, makedev(d->major, d->minor)) < 0)
				die("mknod", d->path);
		}
		if (fchownat(parent, base, d->uid, d->gid, AT_SYMLINK_NOFOLLOW) < 0)
			die("chown device", d->path);
	}
	close(parent);
}

static void make_symlink(int rootfd, const struct symlink_plan *s)
{
	char dir[PATH_MAX];
	const char *base;
	int parent = open_parent(rootfd, s->path, dir, sizeof(dir), &base);
	if (parent < 0)
		die("create symlink directory", s->path);
	if (symlinkat(s->target, parent, base) < 0 && errno != EEXIST)
		die("symlink", s->path);
	close(parent);
}

static void mask_path(int rootfd, const char *path)
{
	struct stat st;
	int target = open_in_root(rootfd, path, 0);
	if (target < 0 && errno == ENOENT)
		return;
	if (target < 0 || fstat(target, &st) < 0)
		die("open masked path", path);
	if (S_ISDIR(st.st_mode)) {
		if (mount("tmpfs", fd_path(target), "tmpfs", MS_RDONLY, NULL) < 0)
			die("mask directory", path);
	} else {
		int tree = open_tree_fd(AT_FDCWD, "/dev/null", SHIM_OPEN_TREE_CLONE);
		if (tree < 0 || move_mount_fd(tree, target) < 0)
			die("mask file", path);
		close(tree);
	}
	close(target);
}

static void readonly_path(int rootfd, const char *path)
{
	int tree, target = open_in_root(rootfd, path, 0);
	if (target < 0 && errno == ENOENT)
		return;
	if (target < 0)
		die("open read-only path", path);
	tree = open_tree_fd(target, "", SHIM_OPEN_TREE_CLONE | AT_RECURSIVE | AT_EMPTY_PATH);
	if (tree < 0 || setattr_fd(tree, 1, SHIM_MOUNT_ATTR_RDONLY, 0, 0) < 0 || move_mount_fd(tree, target) < 0)
		die("make path read-only", path);
	close(tree);
	close(target);
}

/* With more layers than one page of mount options holds, hand them over one by one (Linux 6.8+). */
static void overlay_by_fsconfig(const struct plan *plan)
{
	int fs = (int)syscall(__NR_fsopen, "overlay", 1 /* FSOPEN_CLOEXEC */), mnt;
	if (fs < 0)
		die("fsopen overlay", plan->rootfs_target);
	for (size_t i = 0; i < plan->nlower; i++)
		if (syscall(__NR_fsconfig, fs, SHIM_FSCONFIG_SET_STRING, "lowerdir+", plan->lower[i], 0) < 0)
			die("overlay lowerdir+", plan->lower[i]);
	if (syscall(__NR_fsconfig, fs, SHIM_FSCONFIG_SET_STRING, "upperdir", plan->upper, 0) < 0)
		die("overlay upperdir", plan->upper);
	if (syscall(__NR_fsconfig, fs, SHIM_FSCONFIG_SET_STRING, "workdir", plan->work, 0) < 0)
		die("overlay workdir", plan->work);
	if (in_userns && syscall(__NR_fsconfig, fs, SHIM_FSCONFIG_SET_FLAG, "userxattr", NULL, 0) < 0)
		die("overlay userxattr", plan->rootfs_target);
	if (syscall(__NR_fsconfig, fs, SHIM_FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0)
		die("mount overlay", plan->rootfs_target);
	mnt = (int)syscall(__NR_fsmount, fs, 1 /* FSMOUNT_CLOEXEC */, 0);
	if (mnt < 0 || syscall(__NR_move_mount, mnt, "", AT_FDCWD, plan->rootfs_target,
				SHIM_MOVE_MOUNT_F_EMPTY_PATH) < 0)
		die("mount overlay", plan->rootfs_target);
	close(mnt);
	close(fs);
}

static void mount_root(const struct plan *plan)
{
	if (plan->rootfs_kind == ROOTFS_BIND) {
		if (mount(plan->rootfs_source, plan->rootfs_target, NULL, MS_BIND | MS_REC, NULL) < 0)
			die("bind rootfs", plan->rootfs_source);
		return;
	}
	char data[4096];
	size_t used = 0;
	int n = snprintf(data, sizeof(data), "lowerdir=");
	used = (size_t)n;
	for (size_t i = 0; i < plan->nlower && used < sizeof(data); i++) {
		n = snprintf(data + used, sizeof(data) - used, "%s%s", i ? ":" : "", plan->lower[i]);
		used += (size_t)n;
	}
	if (used < sizeof(data)) {
		n = snprintf(data + used, sizeof(data) - used, ",upperdir=%s,workdir=%s%s", plan->upper, plan->work,
			     in_userns ? ",userxattr" : "");
		used += (size_t)n;
	}
	if (used >= sizeof(data) - 1) {
		overlay_by_fsconfig(plan);
		return;
	}
	if (mount("overlay", plan->rootfs_target, "overlay", 0, data) < 0)
		die("mount overlay", plan->rootfs_target);
}

void rootfs_setup(const struct plan *plan, int *cwd_fd)
{
	int rootfd;

	in_userns = (plan->ns_create & CLONE_NEWUSER) != 0;
	/* Nothing we mount may propagate back to the host (pivot_root also needs a non-shared parent). */
	if (mount(NULL, "/", NULL, plan->root_propagation, NULL) < 0)
		die("set root propagation", "/");
	mount_root(plan);
	rootfd = open(plan->rootfs_target, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (rootfd < 0)
		die("open rootfs", plan->rootfs_target);

	for (size_t i = 0; i < plan->nmounts; i++) {
		const struct mount_plan *m = &plan->mounts[i];
		if (strcmp(m->type, "bind") == 0)
			bind_mount(rootfd, m);
		else if (strcmp(m->type, "remount") != 0)
			fs_mount(rootfd, m);
	}
	for (size_t i = 0; i < plan->ndevices; i++)
		make_device(rootfd, &plan->devices[i]);
	for (size_t i = 0; i < plan->nsymlinks; i++)
		make_symlink(rootfd, &plan->symlinks[i]);
	/* After devices and symlinks, so that a mount can be filled before it turns read-only. */
	for (size_t i = 0; i < plan->nmounts; i++)
		if (strcmp(plan->mounts[i].type, "remount") == 0)
			remount(rootfd, &plan->mounts[i]);
	for (size_t i = 0; i < plan->nmasked; i++)
		mask_path(rootfd, plan->masked[i]);
	for (size_t i = 0; i < plan->nreadonly; i++)
		readonly_path(rootfd, plan->readonly[i]);

	/* Docker creates a missing working directory; the descriptor survives pivot_root. */
	*cwd_fd = open_or_create(rootfd, plan->cwd ? plan->cwd : "/", 1);
	if (*cwd_fd < 0)
		die("create working directory", plan->cwd);

	if (plan->rootfs_readonly && setattr_fd(rootfd, 0, SHIM_MOUNT_ATTR_RDONLY, 0, 0) < 0)
		die("make rootfs read-only", plan->rootfs_target);

	if (fchdir(rootfd) < 0)
		die("chdir rootfs", plan->rootfs_target);
	/* pivot_root(".", ".") stacks the old root on top of the new one; detaching "." drops it. */
	if (syscall(SYS_pivot_root, ".", ".") < 0)
		die("pivot_root", plan->rootfs_target);
	if (umount2(".", MNT_DETACH) < 0)
		die("detach old root", "/");
	if (chdir("/") < 0)
		die("chdir", "/");
	close(rootfd);
}
