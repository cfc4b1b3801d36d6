tree{ name = "othername", version = "1.0", probes = {} }
