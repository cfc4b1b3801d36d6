/*
 * idevice-emu device services (svc_*.c): the lockdown services an emulated iPhone offers.
 * Owned by the services; the core finds them through emu_services[] (emu.h). Each serve()
 * runs on its connection's thread and returns when the client is done, on error or detach.
 * What they answer (DESIGN.md 4.2, PROTOCOL.md 5):
 *
 * - com.apple.mobile.diagnostics_relay (svc_diag.c): lockdown-framed XML, replies
 *   {Status, Diagnostics}. IORegistry by EntryName, else EntryClass ("" is absent;
 *   IOPMPowerSource finds AppleSmartBattery) -> Diagnostics {IORegistry: props}, empty dict
 *   when nothing matches; MobileGestalt -> {MobileGestalt: {asked keys..., Status}}, or only
 *   Status "MobileGestaltDeprecated" when the profile says "Deprecated"; All/GasGauge/NAND/
 *   WiFi/HDMI from the profile's Diagnostics (a part missing there is taken from "All");
 *   Restart/Shutdown/Sleep -> Success (the emulated phone stays); Goodbye -> Success, close;
 *   anything else -> UnknownRequest. DisconnectAfter "diagnostics": closed at the first request.
 * - com.apple.syslog_relay (svc_syslog.c): "\0", then each syslog.txt line as "line\n\0",
 *   then idle until the client closes or the device is detached. DisconnectAfter "syslog":
 *   closed after 3 records.
 * - com.apple.crashreportmover (svc_syslog.c): "ping\0", then waits (5 s at most) for the
 *   client to close.
 * - com.apple.crashreportcopymobile (svc_afc.c): AFC over crashes/, read-only on disk.
 *   ReadDir, GetFileInfo (times from the report's name when it has one), FileOpen (read mode
 *   only, 16 handles), FileRead (<= 1 MiB), FileSeek/Tell/Close, GetDeviceInfo, RemovePath
 *   (remembered per UDID for the run; the files stay on disk). ".." is refused.
 *   DisconnectAfter "afc": closed at the first FileRead.
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
