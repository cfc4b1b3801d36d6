tree{ name = "random", version = "1.0", probes = {} }
math.random()
