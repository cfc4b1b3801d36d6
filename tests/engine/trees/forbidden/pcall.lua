tree{ name = "pcall", version = "1.0", probes = {} }
pcall(function() end)
