-- Syslog signatures: what the live system log showed while the phone was on the bench. The
-- patterns live in syslog-rules.txt (PCRE2); the snapshot's producer matched them into
-- snapshot.syslog.signatures. This tree maps each signature to a fault code (LOG-xxx).
tree{ name = "syslog", version = "1.0", probes = { "syslog" },
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
}

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
      local parts = {}
      for code in string.gmatch(list, "[%w_]+") do
        if SENSOR_PART[code] ~= nil then parts[#parts + 1] = SENSOR_PART[code] end
      end
      if #parts > 0 then part = table.concat(parts, " / ") end
      ev.sensors = list
    end
    node("signature " .. s.id, { count = s.count }, rule.code)
    fault(rule.code, ev, part)
  end
end
