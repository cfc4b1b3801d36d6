tree{ name = "order", version = "1.0", probes = {} }
-- Many string keys: pairs() must give the same order in every state, whatever the hash seed.
local t = {}
for i = 1, 200 do t["k" .. (i * 7919 % 1000)] = i end
local seen = {}
for k, v in pairs(t) do seen[#seen + 1] = k end
node("keys", { first = seen[1], last = seen[#seen], n = #seen }, table.concat(seen, ","):sub(1, 80))
-- The snapshot's objects iterate sorted too, and copy into evidence as they are.
local dev = {}
for k, v in pairs(snapshot.device) do dev[#dev + 1] = k end
node("device keys", { keys = dev }, "ok")
-- No addresses: tables and functions print as their type.
node("tostring", { t = tostring({}), f = tostring(print), s = string.format("%s %s", {}, 1.5) }, "ok")
fault("BAT-004", { device = snapshot.device, values = t, ratio = 2 / 3, big = 2 ^ 60, whole = 3.0 })
