tree{ name = "sortbomb", version = "1.0", probes = {} }
-- A comparator that is not an order and loops inside table.sort (C calling Lua).
local t = {}
for i = 1, 2000 do t[i] = i end
table.sort(t, function(a, b) while true do end end)
