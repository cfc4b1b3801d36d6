/*
 * emu_hostile: the Behaviour flags that make an emulated iPhone attack its host (issue 11).
 * Each models a finding against libimobiledevice 1.3.0 / libplist 2.2: a heap overflow in the
 * AFC client, stack-overflowing nested plists, a trickle that never lets a read time out, huge
 * announced lengths, half a TLS record then silence. They live here, apart from the faithful
 * device, so the normal paths in emu_*.c and svc_*.c only gain one call at each hook.
 *
 * Behaviour keys (all optional; tests/emulator/README.md):
 *   AfcReadOverflow  bool    every AFC FileRead answer has this_length > entire_length
 *   DiagnosticsNest  int     every diagnostics_relay reply carries Diagnostics/Bomb, arrays
 *                            nested this deep (1..1000000)
 *   GetValueNest     int     a whole-domain lockdown GetValue inside the session answers a
 *                            Value of arrays nested this deep (1..1000000)
 *   Trickle          string  "lockdown", "tls", "diagnostics", "syslog", "mover", "afc": every
 *                            reply of that stage is sent one byte at a time, TrickleMs apart
 *   TrickleMs        int     the gap for Trickle (default 1000, 1..60000)
 *   HugeLength       string  "lockdown", "diagnostics", "afc": the first reply of that stage
 *                            announces 2 GiB (AFC: 4 GiB), sends its real bytes, then stays silent
 *   TlsHalfRecord    bool    the first lockdown reply inside TLS: half its TLS record, then silence
 * Owns: nothing beyond the buffers it builds per reply.
 */
#ifndef EMU_HOSTILE_H
#define EMU_HOSTILE_H

#include <openssl/ssl.h>
#include <plist/plist.h>
#include <stddef.h>
#include <stdint.h>

struct emu_device;

struct emu_hostile {
	int afc_read_overflow;
	unsigned diag_nest;
	unsigned getvalue_nest;
	char trickle[16];
	int trickle_ms;
	char huge_length[16];
	int tls_half_record;
};

/* Is key one of the Behaviour keys above? */
int emu_hostile_known_key(const char *key);
/* Read the keys above from the Behaviour dict. 0, or -1 with a one-line reason. */
int emu_hostile_check(plist_t beh, struct emu_hostile *h, char *why, size_t whylen);
/* Is the device hostile at this stage (Trickle or HugeLength naming it)? */
int emu_hostile_at(const struct emu_device *d, const char *stage);

/*
 * Send one message of a stage: trickled or with a huge length when the Behaviour says so
 * (framed: a lockdown-style 4-byte length first; raw: the bytes as they are), else one write.
 * 0 sent, -1 connection over (or the device is to go silent: the caller then closes).
 */
int emu_hostile_send(int fd, const void *buf, size_t n, const struct emu_device *d, const char *stage);
/* A lockdown-framed plist reply of a stage, with the diagnostics bomb when asked. 0 or -1. */
int emu_hostile_plist_send(int fd, plist_t p, const struct emu_device *d, const char *stage);
/* GetValueNest: the XML of a GetValue reply (Request, Domain) with the nested Value; malloc'd. */
char *emu_hostile_getvalue_xml(const struct emu_device *d, const char *domain, size_t *len);
/*
 * AFC FileRead (AfcReadOverflow): a DATA packet saying entire_length 40 + 16 and this_length
 * 40 + 65536, then 65536 bytes. 0 sent, -1 connection over.
 */
int emu_hostile_afc_overflow(int fd, uint64_t packet_num, const struct emu_device *d);
/* AFC replies with HugeLength "afc": rewrite the packet's entire_length to 4 GiB. */
void emu_hostile_afc_huge(unsigned char *pkt, size_t n, const struct emu_device *d);
/* TLS server handshake whose flight is trickled (Trickle "tls"). 1 done, else failed. */
int emu_hostile_tls_accept(SSL *ssl, int fd, const struct emu_device *d);
/* TlsHalfRecord: encrypt msg, send half its record, stay silent until the client goes. -1. */
int emu_hostile_tls_half(SSL *ssl, int fd, const void *msg, size_t n, const struct emu_device *d);

#endif
