tree{ name = "cstack", version = "1.0", probes = {} }
-- __index calling itself goes through C for every level: Lua's C-stack guard must stop it.
local t = setmetatable({}, { __index = function(self, k) return self[k .. "x"] end })
local v = t.a
