tree{ name = "twice", version = "1.0", probes = {} }
reading("history_seen", 1)
