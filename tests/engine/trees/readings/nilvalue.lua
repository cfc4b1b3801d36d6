tree{ name = "nilvalue", version = "1.0", probes = {} }
reading("nothing", nil)
