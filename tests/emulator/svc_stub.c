/* Temporary: placeholders until the real services land (replaced file by file). */
#include "svc.h"

#include <unistd.h>

void svc_diagnostics_serve(int fd, struct emu_device *d)
{
	(void)fd;
	(void)d;
}
void svc_syslog_serve(int fd, struct emu_device *d)
{
	(void)fd;
	(void)d;
}
void svc_crashmover_serve(int fd, struct emu_device *d)
{
	(void)fd;
	(void)d;
}
void svc_afc_serve(int fd, struct emu_device *d)
{
	(void)fd;
	(void)d;
}
