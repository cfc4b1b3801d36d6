tree{ name = "recurse", version = "1.0", probes = {} }
local function down(n) return 1 + down(n + 1) end
down(1)
