/*
 * skiff-init: the `--init` process of a container (what tini is for Docker). The agent binds
 * this static binary read-only at /sbin/docker-init and runs `/sbin/docker-init -- cmd args...`
 * as pid 1. It starts cmd as its only child, passes every signal it gets on to it, reaps every
 * zombie the container's orphans leave behind, and exits with the child's status (128 + signal
 * when a signal ended it).
 *
 * Pid 1 of a pid namespace gets no signal it has no handler for, so a program like `sleep`
 * running as pid 1 ignores `docker stop`'s SIGTERM; as init's child it does not.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

/* Faults of init itself: never blocked, or a bug would spin instead of ending it. */
static const int synchronous[] = { SIGFPE, SIGILL, SIGSEGV, SIGBUS, SIGABRT, SIGTRAP, SIGSYS };

static void __attribute__((noreturn)) run_child(char **argv, const sigset_t *original)
{
	/* Its own process group, in front on the terminal: ^C reaches it (and not init twice). */
	if (setpgid(0, 0) == 0 && isatty(STDIN_FILENO))
		tcsetpgrp(STDIN_FILENO, getpgrp()); /* SIGTTOU is still blocked here */
	sigprocmask(SIG_SETMASK, original, NULL);
	signal(SIGTTIN, SIG_DFL);
	signal(SIGTTOU, SIG_DFL);
	execvp(argv[0], argv);
	fprintf(stderr, "skiff-init: exec %s: %s\n", argv[0], strerror(errno));
	_exit(errno == ENOENT ? 127 : 126);
}

int main(int argc, char **argv)
{
	sigset_t all, original;
	int first = 1, status = 0;
	pid_t child;

	if (first < argc && strcmp(argv[first], "--") == 0)
		first++;
	if (first >= argc) {
		fprintf(stderr, "usage: %s [--] command [argument...]\n", argv[0]);
		return 2;
	}
	sigfillset(&all);
	for (size_t i = 0; i < sizeof(synchronous) / sizeof(synchronous[0]); i++)
		sigdelset(&all, synchronous[i]);
	sigprocmask(SIG_SETMASK, &all, &original);
	/* Init may stay in the background of the terminal after handing it to the child. */
	signal(SIGTTIN, SIG_IGN);
	signal(SIGTTOU, SIG_IGN);

	child = fork();
	if (child < 0) {
		fprintf(stderr, "skiff-init: fork: %s\n", strerror(errno));
		return 1;
	}
	if (child == 0)
		run_child(argv + first, &original);

	for (;;) {
		siginfo_t info;
		int sig = sigwaitinfo(&all, &info);
		if (sig < 0)
			continue; /* EINTR */
		if (sig != SIGCHLD) {
			kill(child, sig);
			continue;
		}
		/* Reap everything: the child, and orphans the kernel handed to pid 1. */
		for (;;) {
			int st;
			pid_t pid = waitpid(-1, &st, WNOHANG);
			if (pid <= 0)
				break;
			if (pid == child) {
				status = st;
				child = -1;
			}
		}
		if (child < 0)
			break;
	}
	/* The rest of the namespace dies with pid 1; the kernel reaps those. */
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return WEXITSTATUS(status);
}
