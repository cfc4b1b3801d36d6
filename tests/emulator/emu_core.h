/*
 * emu_core: state private to the idevice-emu core (emu_*.c); the services see only emu.h.
 *
 * One global `emu_core` holds the attached devices, the open client connections, the usbmux
 * pair-record store and the run's TLS/pairing identity. Everything in it is guarded by
 * emu_core.lock except the read-only identity (set before the sockets exist) and `stopping`.
 * A device is reference counted: the attached list holds one reference, every connection
 * that reached it through Connect holds one; the last unref frees it.
 */
#ifndef EMU_CORE_H
#define EMU_CORE_H

#include <openssl/ssl.h>
#include <pthread.h>
#include <time.h>

#include "emu.h"

#define EMU_LOCKDOWN_PORT  62078
#define EMU_MAX_HOSTS      8                  /* host ids a device remembers as paired */
#define EMU_MAX_PORTS      32                 /* service ports a device remembers */
#define EMU_MUX_MAX        (1u * 1024 * 1024) /* largest usbmux plist payload we accept */
#define EMU_MAX_CONTAINERS 1024               /* arrays + dicts in one client message */

struct emu_port {
	uint16_t port;
	int svc; /* index into emu_services */
};

struct core_dev {
	struct emu_device d;           /* first: services get &cd->d */
	int refs;                      /* under emu_core.lock */
	int listed;                    /* in the attached list */
	char mux_serial[65];           /* SerialNumber on the mux: the UDID without its '-' */
	char hosts[EMU_MAX_HOSTS][64]; /* HostIDs this device trusts (Pair, Behaviour/Paired) */
	int nhosts;
	struct emu_port ports[EMU_MAX_PORTS];
	unsigned nports;
	uint16_t next_port;
	struct core_dev *next;
};

struct core_conn {
	int fd;
	int listener;         /* a usbmux Listen client: gets events */
	int binary;           /* the client writes binary plists: events go to it in binary too */
	struct core_dev *dev; /* the device this connection reached, or NULL */
	struct core_conn *next;
};

struct pair_entry {
	char key[65]; /* UDID without '-' */
	char *data;
	size_t len;
	struct pair_entry *next;
};

struct emu_core {
	pthread_mutex_t lock;
	pthread_cond_t idle;
	struct core_dev *devs;
	uint32_t next_id;
	struct core_conn *conns;
	int nthreads;
	struct pair_entry *records;
	atomic_int stopping;
	/* identity: fixed before the sockets exist */
	char buid[37];
	char host_id[37];
	SSL_CTX *tls;
};

extern struct emu_core emu_core;

/* emu_io.c: parse a client's XML plist (must start "<?xml" or "<plist"), refusing more than
 * EMU_MAX_CONTAINERS arrays and dicts (libplist recurses per level). NULL when refused. */
plist_t core_plist_from_xml(const char *buf, size_t len);

/* emu_bplist.c: a client's plist in either format: binary ("bplist00", its structure checked with
 * bounds before libplist sees it) or XML (core_plist_from_xml). *binary (may be NULL) says which
 * came in. NULL when refused. */
plist_t core_plist_parse(const char *buf, size_t len, int *binary);
/* Serialize p as binary or XML (0, or -1); free with core_plist_serialize_free. */
int core_plist_serialize(plist_t p, int binary, char **out, uint32_t *len);
void core_plist_serialize_free(char *buf, int binary);
/* emu_io.c: the format of the plist last received on this thread (= this connection), which its
 * replies use: a client that writes binary plists reads binary ones, XML stays XML. */
void core_plist_set_reply_binary(int binary);
int core_plist_reply_binary(void);

/* emu_main.c: devices and connections */
struct core_dev *core_dev_find(uint32_t device_id); /* referenced, or NULL */
void core_dev_unref(struct core_dev *cd);           /* lock not held */
void core_dev_unref_locked(struct core_dev *cd);
int core_dev_attach(struct core_dev *cd, char *err, size_t errlen); /* takes cd */
int core_dev_detach(const char *udid);                              /* 0 or -1: no such device */
char *core_dev_list(void);                                          /* "N udid udid..." malloc'd */
int core_dev_trust(const char *udid);            /* "trust UDID": 0 or -1: no such device */
int core_dev_trust_pending(struct core_dev *cd); /* Behaviour/TrustPending, until trusted */
struct core_conn *core_conn_add(int fd);
void core_conn_remove(struct core_conn *c);
int core_conn_set_dev(struct core_conn *c, struct core_dev *cd); /* -1 when cd is detached */
void core_udid_key(const char *udid, char *out, size_t outlen);  /* strip '-' */

/* emu_clock.c: the emulator's start (fixed at the first call: main calls it first), and the
 * profile's Clock dict (CrashDatesAsOf) into d->crash_shift. 0, or -1 with why. */
time_t emu_clock_start(void);
int core_clock_load(plist_t root, struct emu_device *d, char *why, size_t whylen);

/* emu_profile.c */
int core_profile_load(const char *dir, struct core_dev **out, char *err, size_t errlen);
void core_dev_free(struct core_dev *cd);

/* emu_pki.c */
int emu_pki_init(char *err, size_t errlen);
void emu_pki_free(void);
plist_t emu_pki_pair_record(const char *udid);  /* a full usbmuxd-style record, caller frees */
const char *emu_pki_device_pubkey(size_t *len); /* PEM "RSA PUBLIC KEY"; waits; NULL if none */
void emu_pki_want_rsa(void);                    /* start making that key in the background (idempotent) */
void emu_random_uuid(char out[37]);

/* emu_mux.c */
void emu_mux_serve(struct core_conn *c);
void emu_mux_event_locked(const struct core_dev *cd, const char *type); /* Attached/Detached/Paired */
void emu_mux_store_locked(const char *udid, const char *data, size_t len);
void emu_mux_store_free(void);

/* emu_lockdown.c */
void emu_lockdown_serve(int fd, struct core_dev *cd);

/* emu_control.c */
void emu_control_serve(int fd);

#endif
