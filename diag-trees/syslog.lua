-- Syslog signatures: what the live system log showed while the phone was on the bench. The
-- patterns live in syslog-rules.txt (PCRE2); the snapshot's producer matched them into
-- snapshot.syslog.signatures. This tree maps each signature to a fault code (LOG-xxx).
tree{ name = "syslog", version = "1.0", probes = { "info", "syslog" },
      description = "Faults seen in the live system log" }

-- signature id -> code, how many lines it takes, and how far to trust it (DOMAIN.md 2).
local MAP = {
  ["baseband-crash"]        = { code = "LOG-001", min = 1, confidence = "low", source = "imobilestore [C]" },
  ["nand-error"]            = { code = "LOG-002", min = 1, confidence = "low", source = "pikabu, imobilestore [C]" },
  ["i2c-error"]             = { code = "LOG-003", min = 1, confidence = "low", source = "rewa.tech, imobilestore [C]" },
  ["missing-sensor"]        = { code = "LOG-004", min = 1, confidence = "medium", source = "iFixit Kernel Panics wiki [B]" },
  ["accessory-unsupported"] = { code = "LOG-005", min = 1, confidence = "high", source = "iOS accessory alert" },
  ["liquid-detected"]       = { code = "LOG-006", min = 1, confidence = "high", source = "iOS liquid detection alert" },
  ["wifi-error"]            = { code = "LOG-007", min = 2, confidence = "low", source = "imobilestore [C]" },
  ["tristar-missing"]       = { code = "LOG-008", min = 1, confidence = "low", source = "imobilestore [C]" },
  ["battery-not-genuine"]   = { code = "LOG-009", min = 1, confidence = "high", source = "iOS battery message" },
  ["thermal-pressure"]      = { code = "LOG-010", min = 1, confidence = "medium", source = "iOS thermal log" },
  ["smc-sensor-array"]      = { code = "LOG-011", min = 1, confidence = "medium", source = "iFixit SMC panic page [B]" },
  ["battery-peak-power"]    = { code = "LOG-012", min = 1, confidence = "high", source = "powerd (DOMAIN.md 3)" },
  ["battery-service"]       = { code = "LOG-013", min = 1, confidence = "high", source = "powerd kBHSvcFlag (DOMAIN.md 3)" },
}

-- The part for an SMC sensor-array value on this model (as PAN-020 in panics.lua: the value as
-- a token first, then a combination of single-bit values, else unknown).
local m = model()
local model_name = (m and m.name) or (snapshot.device and snapshot.device.product_type) or "this model"
local function smc_part(line)
  local raw = string.match(string.lower(line or ""), "sensor array%s+(0x%x+)")
  local n = raw and tonumber(raw)
  if n == nil then return nil, nil end
  local value = string.format("0x%x", n)
  local parts, seen, covered = {}, {}, 0
  for _, e in ipairs((m and m.smc_sensor_array) or {}) do
    if tonumber(e.value) == n and not seen[e.part] then parts[#parts + 1] = e.part; seen[e.part] = true end
  end
  if #parts == 0 then
    for _, e in ipairs((m and m.smc_sensor_array) or {}) do
      local v = tonumber(e.value)
      if v ~= nil and v > 0 and (v & (v - 1)) == 0 and (n & v) == v then
        covered = covered | v
        if not seen[e.part] then parts[#parts + 1] = e.part; seen[e.part] = true end
      end
    end
    if covered ~= n then parts = {} end
  end
  if #parts == 0 then return "unknown: value " .. value .. " not in the table for " .. model_name, value end
  return table.concat(parts, " + "), value
end

-- A missing sensor in the log names its part the way the panic does (PAN-010..013).
local SENSOR_PART = {
  mic1 = "charge-port assembly", prs0 = "charge-port assembly",
  mic2 = "power-button / flash flex", tg0b = "battery or battery connector",
  tg0v = "battery or battery connector", prx = "front sensor flex",
}

local device = snapshot.device or {}
if (device.mode or "normal") ~= "normal" or (device.lockdown or "ok") ~= "ok" then
  node("readable", { mode = device.mode, lockdown = device.lockdown }, "skipped")
  return
end
local log = snapshot.syslog
if log == nil then
  node("captured", { probe_error = probe_failed("syslog") }, "no syslog captured")
  return
end
node("captured", { seconds = log.seconds, lines = log.lines, truncated = log.truncated },
     #(log.signatures or {}) .. " signature(s)")

for _, s in ipairs(log.signatures or {}) do
  local rule = MAP[s.id]
  if rule == nil then
    node("signature " .. tostring(s.id), { count = s.count }, "no code for this signature")
  elseif (s.count or 0) < rule.min then
    node("signature " .. s.id, { count = s.count, min = rule.min }, "below threshold")
  else
    local part = nil
    local ev = { signature = s.id, count = s.count, first_line = s.first_line, seconds = log.seconds,
                 confidence = rule.confidence, source = rule.source }
    if s.id == "missing-sensor" then
      local list = string.match(string.lower(s.first_line or ""), "missing sensor%(?s?%)?:%s*([^\n]*)") or ""
      list = string.match(list, "^[^@;%(]*") -- "prs0; watchdog checkin will fail"
      local parts = {}
      for code in string.gmatch(list, "%w+") do
        if SENSOR_PART[code] ~= nil then parts[#parts + 1] = SENSOR_PART[code] end
      end
      if #parts > 0 then part = table.concat(parts, " / ") end
      ev.sensors = list
    elseif s.id == "smc-sensor-array" then
      part, ev.value = smc_part(s.first_line)
      ev.model = model_name
    end
    node("signature " .. s.id, { count = s.count }, rule.code)
    fault(rule.code, ev, part)
  end
end
