/*
 * idevice-emu device services (svc_*.c): the lockdown services an emulated iPhone offers.
 * Owned by the services; the core finds them through emu_services[] (emu.h). Each serve()
 * runs on its connection's thread and returns when the client is done, on error or detach.
 */
#ifndef SVC_H
#define SVC_H

#include "emu.h"

void svc_diagnostics_serve(int fd, struct emu_device *d);
void svc_syslog_serve(int fd, struct emu_device *d);
void svc_crashmover_serve(int fd, struct emu_device *d);
void svc_afc_serve(int fd, struct emu_device *d);

/*
 * Keep a connection open without sending, discarding whatever the client sends, until the
 * client closes, the device is detached, or max_ms passes (-1: no limit).
 */
void svc_idle(int fd, const struct emu_device *d, int max_ms);

#endif
