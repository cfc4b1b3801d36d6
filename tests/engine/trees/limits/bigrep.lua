tree{ name = "bigrep", version = "1.0", probes = {} }
local s = string.rep("x", 1 << 30)
