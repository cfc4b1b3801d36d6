tree{ name = "rawset", version = "1.0", probes = {} }
rawset(_G, 'x', 1)
