tree{ name = "loadfile", version = "1.0", probes = {} }
loadfile('/etc/passwd')
