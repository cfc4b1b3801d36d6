/* The table of lockdown services idevice-emu offers (looked up by name by StartService). */
#include "svc.h"

const struct emu_service emu_services[] = {
    {"com.apple.mobile.diagnostics_relay", svc_diagnostics_serve},
    {"com.apple.syslog_relay", svc_syslog_serve},
    {"com.apple.crashreportmover", svc_crashmover_serve},
    {"com.apple.crashreportcopymobile", svc_afc_serve},
    {NULL, NULL},
};
