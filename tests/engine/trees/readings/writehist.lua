tree{ name = "writehist", version = "1.0", probes = {} }
reading("before_write", true)
history[1] = {}
