tree{ name = "setglobal", version = "1.0", probes = {} }
health = 10
