tree{ name = "overwrite", version = "1.0", probes = {} }
fault = function() end
