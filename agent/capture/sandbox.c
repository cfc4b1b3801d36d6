/* sandbox: see sandbox.h. */
#include "sandbox.h"

#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/sched.h>
#include <seccomp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#if defined(__SANITIZE_ADDRESS__)
#define SANITIZER_BUILD 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SANITIZER_BUILD 1
#endif
#endif
#ifndef SANITIZER_BUILD
#define SANITIZER_BUILD 0
#endif

int
sandbox_sanitizer_build(void)
{
	return SANITIZER_BUILD;
}

static int sigsys_fd = -1;
static pid_t self_pid;

/* Async-signal-safe: one line naming the refused call, then die of SIGSYS. */
static void
on_sigsys(int sig, siginfo_t *si, void *uc)
{
	char line[64] = "{\"type\":\"refused\",\"syscall\":";
	size_t n = strlen(line);
	char digits[16];
	int nr = si ? si->si_syscall : -1, k = 0;
	struct sigaction sa;

	(void)uc;
	if (nr < 0)
		nr = 0;
	do {
		digits[k++] = (char)('0' + nr % 10);
		nr /= 10;
	} while (nr > 0 && k < (int)sizeof(digits));
	while (k > 0 && n + 3 < sizeof(line))
		line[n++] = digits[--k];
	line[n++] = '}';
	line[n++] = '\n';
	if (sigsys_fd >= 0 && write(sigsys_fd, line, n) < 0) {
		/* nothing to be done: the signal below still ends the process */
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_DFL;
	sigaction(sig, &sa, NULL);
	syscall(SYS_tgkill, self_pid, (pid_t)syscall(SYS_gettid), SIGSYS); /* delivered on return */
}

static int
limit(int res, rlim_t soft, rlim_t hard, const char *name, char *why, size_t whylen)
{
	struct rlimit cur, rl;

	/* never raise a limit someone set lower (ulimit, systemd's LimitNOFILE=...) */
	if (getrlimit(res, &cur) == 0) {
		if (cur.rlim_max != RLIM_INFINITY && hard > cur.rlim_max)
			hard = cur.rlim_max;
		if (cur.rlim_cur != RLIM_INFINITY && soft > cur.rlim_cur)
			soft = cur.rlim_cur;
	}
	if (soft > hard)
		soft = hard;
	rl.rlim_cur = soft;
	rl.rlim_max = hard;
	if (setrlimit(res, &rl) != 0) {
		snprintf(why, whylen, "cannot set the reader's %s limit: %s", name, strerror(errno));
		return -1;
	}
	return 0;
}

static int
allow(scmp_filter_ctx ctx, int nr)
{
	return seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 0);
}

/* The calls reading a phone needs (found with strace over every capture path, including
 * libusb under umockdev): anything not here traps. */
static const int allowed[] = {
    /* memory */
    SCMP_SYS(brk),
    SCMP_SYS(mmap),
    SCMP_SYS(munmap),
    SCMP_SYS(mremap),
    SCMP_SYS(mprotect),
    SCMP_SYS(madvise),
    /* threads and their synchronisation (clone: below, with CLONE_THREAD) */
    SCMP_SYS(futex),
    SCMP_SYS(set_robust_list),
    SCMP_SYS(get_robust_list),
    SCMP_SYS(rseq),
    SCMP_SYS(set_tid_address),
    SCMP_SYS(sched_yield),
    SCMP_SYS(sched_getaffinity),
    /* reading its own scheduling (glibc's thread and abort paths): a heap a phone corrupted
     * then dies of SIGABRT or SIGSEGV, named as such, not of a refused call */
    SCMP_SYS(sched_getparam),
    SCMP_SYS(sched_getscheduler),
    SCMP_SYS(sched_get_priority_max),
    SCMP_SYS(sched_get_priority_min),
    SCMP_SYS(gettid),
    SCMP_SYS(getpid),
    SCMP_SYS(getppid),
    SCMP_SYS(exit),
    SCMP_SYS(exit_group),
    SCMP_SYS(membarrier),
    /* signals (tgkill: below, only this process) */
    SCMP_SYS(rt_sigaction),
    SCMP_SYS(rt_sigprocmask),
    SCMP_SYS(rt_sigreturn),
    SCMP_SYS(sigaltstack),
    SCMP_SYS(restart_syscall),
    /* files: the trees' models and rules, the crash folder, libusb's sysfs and usbfs */
    SCMP_SYS(read),
    SCMP_SYS(write),
    SCMP_SYS(readv),
    SCMP_SYS(writev),
    SCMP_SYS(pread64),
    SCMP_SYS(pwrite64),
    SCMP_SYS(open),
    SCMP_SYS(openat),
    SCMP_SYS(close),
    SCMP_SYS(close_range),
    SCMP_SYS(lseek),
    SCMP_SYS(fstat),
    SCMP_SYS(stat),
    SCMP_SYS(lstat),
    SCMP_SYS(newfstatat),
    SCMP_SYS(statx),
    SCMP_SYS(statfs),
    SCMP_SYS(fstatfs),
    SCMP_SYS(access),
    SCMP_SYS(faccessat),
    SCMP_SYS(faccessat2),
    SCMP_SYS(readlink),
    SCMP_SYS(readlinkat),
    SCMP_SYS(getdents64),
    SCMP_SYS(getdents),
    SCMP_SYS(mkdir),
    SCMP_SYS(mkdirat),
    SCMP_SYS(fcntl),
    SCMP_SYS(dup),
    SCMP_SYS(dup2),
    SCMP_SYS(dup3),
    SCMP_SYS(pipe),
    SCMP_SYS(pipe2),
    SCMP_SYS(eventfd2),
    SCMP_SYS(getcwd),
    SCMP_SYS(umask),
    SCMP_SYS(fsync),
    SCMP_SYS(fdatasync),
    SCMP_SYS(ftruncate),
    /* umockdev's preload (the USB tests) binds its uevent socket after unlinking the path:
     * no power a reader that may write files did not have */
    SCMP_SYS(unlink),
    SCMP_SYS(unlinkat),
    /* sockets as a client: usbmuxd, libusb's udev monitor (socket: below, by family) */
    SCMP_SYS(connect),
    SCMP_SYS(sendto),
    SCMP_SYS(recvfrom),
    SCMP_SYS(sendmsg),
    SCMP_SYS(recvmsg),
    SCMP_SYS(shutdown),
    SCMP_SYS(setsockopt),
    SCMP_SYS(getsockopt),
    SCMP_SYS(getsockname),
    SCMP_SYS(getpeername),
    SCMP_SYS(bind), /* netlink sockets bind to receive uevents */
    /* waiting and time */
    SCMP_SYS(poll),
    SCMP_SYS(ppoll),
    SCMP_SYS(select),
    SCMP_SYS(pselect6),
    SCMP_SYS(epoll_create1),
    SCMP_SYS(epoll_ctl),
    SCMP_SYS(epoll_wait),
    SCMP_SYS(epoll_pwait),
    SCMP_SYS(timerfd_create),
    SCMP_SYS(timerfd_settime),
    SCMP_SYS(timerfd_gettime),
    SCMP_SYS(clock_gettime),
    SCMP_SYS(clock_getres),
    SCMP_SYS(gettimeofday),
    SCMP_SYS(time),
    SCMP_SYS(nanosleep),
    SCMP_SYS(clock_nanosleep),
    /* what libc and OpenSSL ask of the system */
    SCMP_SYS(getrandom),
    SCMP_SYS(uname),
    SCMP_SYS(sysinfo),
    SCMP_SYS(getuid),
    SCMP_SYS(geteuid),
    SCMP_SYS(getgid),
    SCMP_SYS(getegid),
    SCMP_SYS(getrlimit),
    SCMP_SYS(getrusage),
};

/* A sanitizer build's extra calls, to report an error and to check for leaks at exit. */
static const int allowed_sanitizer[] = {
    SCMP_SYS(ptrace), SCMP_SYS(wait4), SCMP_SYS(waitid), SCMP_SYS(prctl), SCMP_SYS(setrlimit),
};

/*
 * libseccomp's documented SCMP_A0()/SCMP_A0_32() macros leave datum_b to the compound literal's
 * zero fill, which clang's -Wmissing-field-initializers reports (the fuzz build is clang's).
 */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
static int
build_filter(scmp_filter_ctx ctx)
{
	static const int families[] = {AF_UNIX, AF_INET, AF_INET6, AF_NETLINK};
	int r = 0;

	for (size_t i = 0; i < sizeof(allowed) / sizeof(allowed[0]) && r == 0; i++)
		r = allow(ctx, allowed[i]);
	for (size_t i = 0; i < sizeof(families) / sizeof(families[0]) && r == 0; i++)
		r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(socket), 1,
		                     SCMP_A0_32(SCMP_CMP_EQ, families[i]));
	/* ioctl: libusb's usbfs requests and the like; never typing into a terminal */
	if (r == 0)
		r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(ioctl), 1,
		                     SCMP_A1_32(SCMP_CMP_NE, TIOCSTI));
	/* signals to itself only (abort, raise) */
	if (r == 0)
		r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(tgkill), 1,
		                     SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)self_pid));
	/* getrlimit is prlimit64(0, res, NULL, &old): reading its own limits, never setting
	 * another process's */
	if (r == 0)
		r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(prlimit64), 2, SCMP_A0(SCMP_CMP_EQ, 0),
		                     SCMP_A2(SCMP_CMP_EQ, 0));
	/* glibc asks clone3 first and falls back to clone, whose flags a filter can see */
	if (r == 0)
		r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0);
	if (SANITIZER_BUILD) {
		/* LeakSanitizer's tracer is a clone that is not a thread; it then ptraces us */
		for (size_t i = 0; i < sizeof(allowed_sanitizer) / sizeof(allowed_sanitizer[0]) && r == 0;
		     i++)
			r = allow(ctx, allowed_sanitizer[i]);
		if (r == 0)
			r = allow(ctx, SCMP_SYS(clone));
	} else {
		if (r == 0)
			r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(clone), 1,
			                     SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_THREAD, CLONE_THREAD));
		/* thread names, and the rest refused */
		if (r == 0)
			r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(prctl), 1,
			                     SCMP_A0_32(SCMP_CMP_EQ, PR_SET_NAME));
		if (r == 0)
			r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(prctl), 1,
			                     SCMP_A0_32(SCMP_CMP_EQ, PR_GET_NAME));
	}
	return r;
}
#pragma GCC diagnostic pop

int
sandbox_apply(int cpu_s, int events_fd, char *why, size_t whylen)
{
	struct sigaction sa;
	scmp_filter_ctx ctx;
	int r;

	self_pid = getpid();
	sigsys_fd = events_fd;
	if (cpu_s <= 0)
		cpu_s = 600;
	if (limit(RLIMIT_STACK, SANDBOX_STACK_BYTES, SANDBOX_STACK_BYTES, "stack", why, whylen) != 0 ||
	    limit(RLIMIT_CPU, (rlim_t)cpu_s, (rlim_t)cpu_s + 5, "CPU time", why, whylen) != 0 ||
	    limit(RLIMIT_NOFILE, SANDBOX_NOFILE, SANDBOX_NOFILE, "open files", why, whylen) != 0 ||
	    limit(RLIMIT_FSIZE, SANDBOX_FSIZE_BYTES, SANDBOX_FSIZE_BYTES, "file size", why, whylen) != 0 ||
	    limit(RLIMIT_CORE, 0, 0, "core file", why, whylen) != 0)
		return -1;
	/* ASan maps terabytes of shadow memory: an address-space limit would stop a sanitizer
	 * build's reader before it starts (README: "the reader"). Only real builds get it. */
	if (!SANITIZER_BUILD &&
	    limit(RLIMIT_AS, SANDBOX_AS_BYTES, SANDBOX_AS_BYTES, "address space", why, whylen) != 0)
		return -1;
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
		snprintf(why, whylen, "cannot set no_new_privs: %s", strerror(errno));
		return -1;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_sigsys;
	sa.sa_flags = SA_SIGINFO;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGSYS, &sa, NULL) != 0) {
		snprintf(why, whylen, "cannot catch SIGSYS: %s", strerror(errno));
		return -1;
	}
	ctx = seccomp_init(SCMP_ACT_TRAP);
	if (ctx == NULL) {
		snprintf(why, whylen, "cannot make the seccomp filter");
		return -1;
	}
	r = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS);
	if (r == 0)
		r = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1);
	if (r == 0)
		r = build_filter(ctx);
	if (r == 0)
		r = seccomp_load(ctx);
	seccomp_release(ctx);
	if (r != 0) {
		snprintf(why, whylen, "cannot load the seccomp filter: %s", strerror(-r));
		return -1;
	}
	return 0;
}

void
sandbox_syscall_name(int nr, char *out, size_t outlen)
{
	char *n = seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, nr);

	if (n != NULL)
		util_strlcpy(out, n, outlen);
	else
		snprintf(out, outlen, "#%d", nr);
	free(n);
}
