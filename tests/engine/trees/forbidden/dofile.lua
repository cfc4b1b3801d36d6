tree{ name = "dofile", version = "1.0", probes = {} }
dofile('/etc/passwd')
