tree{ name = "io", version = "1.0", probes = {} }
io.open('/etc/passwd')
