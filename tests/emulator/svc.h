/*
 * idevice-emu device services (svc_*.c): the lockdown services an emulated iPhone offers.
 * Owned by the services; the core finds them through emu_services[] (emu.h).
 */
#ifndef SVC_H
#define SVC_H

#include "emu.h"

void svc_diagnostics_serve(int fd, struct emu_device *d);
void svc_syslog_serve(int fd, struct emu_device *d);
void svc_crashmover_serve(int fd, struct emu_device *d);
void svc_afc_serve(int fd, struct emu_device *d);

#endif
