tree{ name = "loop", version = "1.0", probes = {} }
node("start", {}, "looping")
local n = 0
while true do n = n + 1 end
