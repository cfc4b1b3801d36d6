-- Kernel panics: recurring panics (PAN-001) and what the panic text says about the part
-- (PAN-010..013 thermalmonitord missing sensors, PAN-020 SMC sensor array per model, PAN-030 i2c,
-- PAN-040 storage, PAN-041 baseband, PAN-042 AOP).
-- Only panics (bug_type 210) of the 7 days before captured_at count; a forced restart
-- (bug_type 151, "btn_rst") is the user holding the buttons and never a fault.
-- Sources: DOMAIN.md sections 1 and 2; confidence: high [A], medium [B], low [C]/[D]/UNCERTAIN.
tree{ name = "panics", version = "1.0", probes = { "info", "crashes" },
      description = "Kernel panics of the last 7 days: recurrence and the part they point to" }

local WINDOW_DAYS = 7
local RECURRING = 3

local device = snapshot.device or {}
if (device.mode or "normal") ~= "normal" or (device.lockdown or "ok") ~= "ok" then
  node("readable", { mode = device.mode, lockdown = device.lockdown }, "skipped")
  return
end
local failed = probe_failed("crashes")
-- A copy that broke before any report arrived leaves crashes = [] beside the error: that is
-- "unknown", not "no panics".
if failed ~= nil and (snapshot.crashes == nil or #snapshot.crashes == 0) then
  node("readable", { probe_error = failed }, "failed")
  incomplete("the crash reports could not be read: " .. failed)
  return
end

local m, product = model()
local model_name = (m and m.name) or device.model_name or device.product_type or "this model"

-- thermalmonitord "Missing sensor(s):" codes -> fault (DOMAIN.md 2, iFixit [B] unless noted).
local SENSORS = {
  mic1 = { code = "PAN-010", confidence = "medium", source = "iFixit Kernel Panics wiki [B]" },
  prs0 = { code = "PAN-010", confidence = "medium", source = "iFixit Kernel Panics wiki [B]; pikabu [C]" },
  mic2 = { code = "PAN-011", confidence = "medium",
           source = "iFixit [B]: power-button or flash cable in most models; imobilestore [C] also lists charge port, battery" },
  tg0b = { code = "PAN-012", confidence = "medium", source = "iFixit [B]" },
  tg0v = { code = "PAN-012", confidence = "medium", source = "iFixit [B]" },
  prx  = { code = "PAN-013", confidence = "low", source = "mee-fix [D], UNCERTAIN" },
}

-- Findings are gathered over all recent panics, then raised once per code and part, in the
-- order they were first seen, so the report lists each suspect once with a count.
local findings, order = {}, {}
local function finding(code, part, evidence, panic_name, where)
  local key = code .. "|" .. (part or "")
  local f = findings[key]
  if f == nil then
    f = { code = code, part = part, evidence = evidence, panics = {}, node = where }
    findings[key] = f
    order[#order + 1] = key
  end
  if #f.panics < 10 then f.panics[#f.panics + 1] = panic_name end
end

-- The part for a TG0B/TG0V panic: battery, except on the 11 Pro / Pro Max whose batteries have a
-- second connector on the charge-port flex; there the technician settles it with a known-good
-- battery.
local function tg0b_part()
  if m == nil or m.tg0b_part == nil then return nil end
  local a = ask{ key = "tg0b_new_battery",
    text = {
      en = "Battery sensor (TG0B/TG0V) missing on an 11 Pro: fit a known-good battery. Does the restart loop continue?",
      it = "Sensore batteria (TG0B/TG0V) assente su un 11 Pro: monta una batteria sicuramente buona. I riavvii continuano?",
      fr = "Capteur de batterie (TG0B/TG0V) absent sur un 11 Pro : posez une batterie en bon état. Les redémarrages continuent-ils ?",
      zh = "11 Pro 缺少电池传感器（TG0B/TG0V）：装上一块确认良好的电池后，是否仍然循环重启？",
    },
    choices = { "yes", "no" } }
  if a == "yes" then return m.tg0b_part end
  if a == "no" then return "battery" end
  return "battery or " .. m.tg0b_part
end

-- Every analyser below reads the panic as lines(): lowercased, at most 400 lines of at most
-- 1024 bytes, so a hostile 64 KiB panic string cannot make a pattern search slow.
local function missing_sensors(ls, name)
  local list
  for _, line in ipairs(ls) do
    list = string.match(line, "missing sensor%(?s?%)?:%s*(.*)")
    if list ~= nil then break end
  end
  if list == nil then return end
  -- The list ends where the source location or a remark starts: "prs0 @userspace_watchdog.c:43".
  list = string.match(list, "^[^@;%(]*")
  local seen = {}
  for code in string.gmatch(list, "%w+") do
    local s = SENSORS[code]
    if s ~= nil and not seen[code] then
      seen[code] = true
      local part = nil
      if s.code == "PAN-012" then part = tg0b_part() end
      node("missing sensor " .. code, { panic = name, sensor = code }, s.code)
      finding(s.code, part, { sensor = string.upper(code), confidence = s.confidence, source = s.source },
              name, "missing sensor " .. code)
    elseif s == nil and not seen[code] and #code >= 2 and #code <= 5 then -- codes are 2-5 characters
      seen[code] = true
      node("missing sensor " .. code, { panic = name, sensor = code }, "no mapping (UNVERIFIED)")
    end
  end
end

local function norm_hex(h)
  local n = tonumber(h)
  if n == nil then return nil, nil end
  return string.format("0x%x", n), n
end

local function is_single_bit(n)
  return n > 0 and (n & (n - 1)) == 0
end

-- PAN-020: "SMC PANIC ... sensor array 0x..." mapped through models.json smc_sensor_array.
-- A value equal to a table value (as a token: 0x41, 0xa1, 0x500000 are not single bits) names
-- that part; otherwise a value made only of single-bit table values names each of them
-- (0x1800 on a 13 = charge port + front sensor cable); otherwise the part is unknown.
local function smc_sensor_array(ls, name)
  local smc, raw = false, nil
  for _, line in ipairs(ls) do
    if string.find(line, "smc panic", 1, true) then smc = true end
    if raw == nil and string.find(line, "sensor array", 1, true) then
      raw = string.match(line, "sensor array.-(0x%x+)")
    end
  end
  if not smc then return end
  if raw == nil then
    node("smc sensor array", { panic = name }, "no value in the panic")
    return
  end
  local value, n = norm_hex(raw)
  local table_ = (m and m.smc_sensor_array) or {}
  local hits = {}
  for _, e in ipairs(table_) do
    local v = norm_hex(e.value)
    if v == value then hits[#hits + 1] = e end
  end
  local how = "token"
  if #hits == 0 and n ~= nil then
    local covered = 0
    for _, e in ipairs(table_) do
      local _, ev = norm_hex(e.value)
      if ev ~= nil and is_single_bit(ev) and (n & ev) == ev then
        hits[#hits + 1] = e
        covered = covered | ev
      end
    end
    if covered ~= n then hits = {} end
    how = "bitmask"
  end
  if #hits == 0 then
    node("smc sensor array", { panic = name, value = value, model = model_name }, "unknown value")
    finding("PAN-020", "unknown: value " .. value .. " not in the table for " .. model_name,
      { value = value, product_type = product, confidence = "low",
        source = "models.json smc_sensor_array (iFixit [B]) has no entry for this value" }, name,
        "smc sensor array")
    return
  end
  local parts_seen = {}
  for _, e in ipairs(hits) do
    if not parts_seen[e.part] then
      parts_seen[e.part] = true
      local ev = { value = value, table_value = e.value, matched_as = how, product_type = product,
                   confidence = "medium", source = "iFixit SMC panic page [B]" }
      if e.note ~= nil then ev.note = e.note; ev.confidence = "low" end
      if how == "bitmask" then ev.source = ev.source .. "; bit combination per namdt.com [C]"; ev.confidence = "low" end
      node("smc sensor array", { panic = name, value = value, part = e.part, matched_as = how }, "PAN-020")
      finding("PAN-020", e.part, ev, name, "smc sensor array")
    end
  end
end

local function i2c(ls, name)
  local bus, dev
  for _, line in ipairs(ls) do
    if string.find(line, "i2c", 1, true) and string.find(line, "error", 1, true) then
      bus = string.match(line, "i2c(%d+)")
      dev = string.match(line, "for device (%w+)")
      if bus ~= nil then break end
    end
  end
  if bus == nil then return end
  local part = "peripheral on i2c" .. bus .. " (low confidence)"
  if m ~= nil and m.i2c_buses ~= nil and m.i2c_buses[bus] ~= nil then
    part = m.i2c_buses[bus] .. " (i2c" .. bus .. ", low confidence)"
  end
  node("i2c error", { panic = name, bus = "i2c" .. bus, device = dev }, "PAN-030")
  finding("PAN-030", part, { bus = "i2c" .. bus, device = dev, confidence = "low",
                             source = "rewa.tech, imobilestore [C]" }, name, "i2c error")
end

local function storage(ls, name)
  local low = table.concat(ls, "\n")
  for _, word in ipairs({ "ans2", "nvme", "apcie", "nand", "appleans" }) do
    if string.find(low, "%f[%w]" .. word) then
      node("storage panic", { panic = name, keyword = word }, "PAN-040")
      finding("PAN-040", nil, { keyword = word, confidence = "low", source = "pikabu, imobilestore [C]" },
              name, "storage panic")
      return
    end
  end
end

local function baseband(ls, name)
  local low = table.concat(ls, "\n")
  if string.find(low, "baseband", 1, true) or string.find(low, "radio on sequence failed", 1, true) then
    node("baseband panic", { panic = name }, "PAN-041")
    finding("PAN-041", nil, { confidence = "low", source = "imobilestore [C]" }, name, "baseband panic")
  end
end

local AOP_PARTS = {
  { find = "pressure controller", part = "barometer / bottom flex (Pressure Controller)" },
  { find = "no pulse on", part = "microphone / audio parts (\"no pulse on\")" },
  { find = "bosch", part = "vibrator (Taptic Engine), UNCERTAIN (\"k2 bosch control\")" },
  { find = "prox", part = "proximity sensor (front sensor flex); check for liquid damage" },
}

local function aop(ls, name)
  local line
  for _, l in ipairs(ls) do
    if string.find(l, "aop panic", 1, true) then line = l; break end
  end
  if line == nil then return end
  local part
  for _, a in ipairs(AOP_PARTS) do
    if string.find(line, a.find, 1, true) then part = a.part; break end
  end
  if part == nil then
    local what = string.match(line, "aop panic%s*%-?%s*(.*)") or ""
    part = "sensor named in the panic: " .. string.sub(what, 1, 60)
  end
  node("aop panic", { panic = name, part = part }, "PAN-042")
  finding("PAN-042", part, { confidence = "low", source = "imobilestore, pikabu [C]" }, name, "aop panic")
end

local function analyse(text, name)
  local ls = {}
  for i, l in ipairs(lines(text)) do ls[i] = string.lower(l) end
  missing_sensors(ls, name)
  smc_sensor_array(ls, name)
  i2c(ls, name)
  storage(ls, name)
  baseband(ls, name)
  aop(ls, name)
end

-- Walk the crash reports in the order the snapshot lists them. bug_type 210 is a panic; a legacy
-- panic-base report (bug_type 110, often the same incident as a panic-full one) is read for the
-- part it names but not counted, so one incident is never counted twice.
local recent, older, resets, unknown_age = {}, 0, 0, 0
for _, c in ipairs(snapshot.crashes or {}) do
  local name = c.name or "?"
  local text = c.panic_string or ""
  local age = age_days(c.timestamp)
  local bug = tostring(c.bug_type)
  local legacy = bug == "110" and contains(text, "panic(")
  if bug == "151" or contains(text, "btn_rst") then
    resets = resets + 1
    node("crash " .. name, { bug_type = c.bug_type, timestamp = c.timestamp }, "forced restart: not a fault")
  elseif bug ~= "210" and not legacy then
    node("crash " .. name, { bug_type = c.bug_type }, "not a kernel panic")
  elseif age ~= nil and (age > WINDOW_DAYS or age < -1) then
    older = older + 1
    node("crash " .. name, { timestamp = c.timestamp, age_days = math.floor(age * 10 + 0.5) / 10,
                              window_days = WINDOW_DAYS }, "outside the window: not counted")
  elseif legacy then
    node("crash " .. name, { bug_type = c.bug_type, timestamp = c.timestamp },
         "legacy panic report: read, not counted")
    analyse(text, name)
  else
    if age == nil then
      unknown_age = unknown_age + 1
      node("crash " .. name, { timestamp = c.timestamp }, "panic of unknown date: analysed, not counted")
    else
      recent[#recent + 1] = name
      node("crash " .. name, { timestamp = c.timestamp, age_days = math.floor(age * 10 + 0.5) / 10 },
           "panic in the window")
    end
    analyse(text, name)
  end
end

check{ node = "recurring panics", name = "panics_in_window", value = #recent, at_least = RECURRING,
       fault = "PAN-001",
       values = { window_days = WINDOW_DAYS, older = older, forced_restarts = resets },
       evidence = { window_days = WINDOW_DAYS, panics = recent, captured_at = snapshot.captured_at } }

for _, key in ipairs(order) do
  local f = findings[key]
  local ev = {}
  for k, v in pairs(f.evidence) do ev[k] = v end
  ev.panics = f.panics
  ev.model = model_name
  fault{ code = f.code, evidence = ev, part = f.part, node = f.node }
end
