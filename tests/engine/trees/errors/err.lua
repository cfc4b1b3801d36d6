tree{ name = "err", version = "1.0", probes = {} }
error("boom: the tree gave up")
