tree{ name = "errtable", version = "1.0", probes = {} }
error({ code = 1 })
