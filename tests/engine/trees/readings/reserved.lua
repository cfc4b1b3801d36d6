tree{ name = "reserved", version = "1.0", probes = {} }
reading("battery", { health_pct = 100 })
