tree{ name = "badname", version = "1.0", probes = {} }
reading("Bad Name", 1)
