/*
 * reader: the protocol between capture_device (capture.c, in benchd or benchctl) and the reader
 * process benchd-reader (reader.c), one per capture.
 *
 *   benchd-reader --id ID --crash-dir DIR --trees-dir DIR [--syslog-seconds N]
 *                 [--probe NAME]... [--deadline S] [--parent PID]
 *
 * Descriptors: 0 and 1 are /dev/null; 2 is a pipe to the parent (the reader's log lines
 * "reader: warn: ...", and whatever a library or a sanitizer prints); READER_FD_SNAPSHOT carries
 * the snapshot bytes, written once at the end; READER_FD_EVENTS carries JSON lines:
 *   {"type":"step","step":S,"done":N,"total":M}   progress (done/total optional)
 *   {"type":"reading","name":"battery"|"crashes","value":{...}}
 *   {"type":"refused","syscall":N}                 the filter stopped a system call (then SIGSYS)
 *   {"type":"result","err":E,"device_err":D,"why":S}   last line: capture_local's results
 * Nothing else is open in the reader. It exits 0 after the result line; any other end (a
 * signal, a sanitizer's exit 1, no result line) is a crash. It dies with its parent
 * (PR_SET_PDEATHSIG) and lives in a process group of its own.
 *
 * The sandbox (sandbox.h) is applied before any device byte is read. Test hook:
 * BENCHD_READER_TRY_SYSCALL=NAME in the reader's environment makes it attempt that system call
 * (execve, fork, ptrace, socket-inet6...) right after the sandbox is in place, so a test sees
 * the filter stop it (tests/capture/test_reader.py).
 */
#ifndef BENCHD_READER_H
#define BENCHD_READER_H

#define READER_FD_SNAPSHOT 3
#define READER_FD_EVENTS   4
#define READER_NAME        "benchd-reader"

#endif
