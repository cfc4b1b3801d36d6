tree{ name = "load", version = "1.0", probes = {} }
load('return 1')
