/*
 * sandbox: what the reader process (reader.h) runs under before it reads a device byte.
 *
 * Resource limits: stack 8 MiB, CPU seconds (the capture's deadline plus a margin), 64 open
 * files, files written at most 40 MiB (a crash report is capped at 32 MiB), no core files,
 * and an address space of 1 GiB (SANDBOX_AS_BYTES) in builds without AddressSanitizer: ASan
 * reserves terabytes of virtual memory for its shadow, so a sanitizer build's reader keeps its
 * address space unlimited (its other limits still hold).
 *
 * Then PR_SET_NO_NEW_PRIVS and a seccomp filter (libseccomp) allowing only what reading a phone
 * needs: memory, threads (clone only with CLONE_THREAD; clone3 answers ENOSYS so glibc falls
 * back to clone), files, UNIX/TCP/netlink sockets as a client (usbmuxd, libusb's udev monitor,
 * umockdev's preload in the USB tests), poll, time, randomness, ioctl (libusb's usbfs) except
 * TIOCSTI. No exec, no fork, no ptrace, no kill but of itself, no bind/listen/accept, no mount,
 * no namespaces. Anything else traps: a SIGSYS handler writes {"type":"refused","syscall":N} to
 * the events descriptor and the process dies of SIGSYS, so the parent can name the call.
 * A sanitizer build also allows what the sanitizers need to report and to exit: LeakSanitizer
 * stops the world at exit with clone (a tracer that is not a thread), ptrace, wait4 and prctl.
 *
 * Ownership: none; sandbox_apply changes the calling process for good.
 */
#ifndef BENCHD_SANDBOX_H
#define BENCHD_SANDBOX_H

#include <stddef.h>

#define SANDBOX_STACK_BYTES (8ul << 20)
#define SANDBOX_AS_BYTES    (1ul << 30)
#define SANDBOX_NOFILE      64
#define SANDBOX_FSIZE_BYTES (40ul << 20)

/* Whether this build has AddressSanitizer (and so no RLIMIT_AS, and the extra calls). */
int sandbox_sanitizer_build(void);

/*
 * Limits, no_new_privs, filter. cpu_s: RLIMIT_CPU (soft; hard = soft + 5). events_fd: where the
 * SIGSYS handler reports a refused call. 0, or -1 with a reason in why.
 */
int sandbox_apply(int cpu_s, int events_fd, char *why, size_t whylen);

/* The name of a system call of this architecture ("execve"), or "#N" when unknown. */
void sandbox_syscall_name(int nr, char *out, size_t outlen);

#endif
