tree{ name = "alloc", version = "1.0", probes = {} }
local t, i = {}, 0
while true do
  i = i + 1
  t[i] = string.rep("x", 4096) .. i
end
