tree{ name = "debug", version = "1.0", probes = {} }
debug.getinfo(1)
