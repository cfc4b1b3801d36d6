tree{ name = "collect", version = "1.0", probes = {} }
collectgarbage('count'); local y = undefined_name
