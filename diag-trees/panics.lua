-- Kernel panics: recurring panics (PAN-001) and what the panic *reason* says about the part
-- (PAN-010..013 thermalmonitord missing sensors, PAN-020 SMC sensor array per model, PAN-030 i2c,
-- PAN-040 storage, PAN-041 baseband, PAN-042 AOP).
-- Only panics (bug_type 210) of the 7 days before captured_at count; a forced restart
-- (bug_type 151, "btn_rst") is the user holding the buttons and never a fault.
-- Sources: DOMAIN.md sections 1, 1b and 2, and the real logs of tests/real/ (SOURCES.md lists
-- each); confidence: high [A], medium [B], low [C]/[D]/UNCERTAIN or one thread.
tree{ name = "panics", version = "2.0", probes = { "info", "crashes" },
      description = "Kernel panics of the last 7 days: recurrence and the part their reason points to" }

-- A panic counts when it is at most WINDOW_DAYS old: age > WINDOW_DAYS is outside (a panic of
-- exactly 7.0 days is inside). DESIGN.md 4.5 (PAN-001: "3 or more ... within 7 days").
local WINDOW_DAYS = 7
local RECURRING = 3
-- The reason is the panic line and the lines after it up to the first metadata line; no real
-- reason seen is longer than ~40 lines (a thermalmonitord watchdog lists ~10 services).
local REASON_MAX_LINES = 80

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
  incomplete{ key = "crash_reports_not_read", detail = failed,
              text = { en = "the crash reports could not be read: reconnect the phone and diagnose again",
                       it = "non è stato possibile leggere i rapporti di arresto anomalo: ricollega il telefono e ripeti la diagnosi",
                       fr = "les rapports de plantage n'ont pas pu être lus : reconnectez le téléphone et relancez le diagnostic",
                       zh = "无法读取崩溃报告：请重新连接手机后重新诊断" } }
  return
end
-- A snapshot taken without the crashes probe says nothing about panics: "no panics" would be a
-- claim the phone never made.
local function probed(name)
  if type(snapshot.probes) ~= "table" then return true end -- older snapshots: assume read
  for _, p in ipairs(snapshot.probes) do
    if p == name then return true end
  end
  return false
end
if snapshot.crashes == nil and not probed("crashes") then
  node("readable", { probes = snapshot.probes }, "crash reports not read")
  incomplete{ key = "crash_reports_not_probed",
              text = { en = "the crash reports were not read: diagnose again with the crashes probe",
                       it = "i rapporti di arresto anomalo non sono stati letti: ripeti la diagnosi con la lettura dei rapporti",
                       fr = "les rapports de plantage n'ont pas été lus : relancez le diagnostic avec la lecture des rapports",
                       zh = "未读取崩溃报告：请在读取崩溃报告的情况下重新诊断" } }
  return
end

local m, product = model()
local model_name = (m and m.name) or device.model_name or device.product_type or "this model"

-- thermalmonitord "Missing sensor(s):" codes -> fault (DOMAIN.md 2, iFixit [B] unless noted).
-- A missing sensor is not always hardware: one developer report ties "Missing sensor(s): Prs0"
-- to a tweak injected into thermalmonitord (DOMAIN.md 1b, one thread): that keeps these medium.
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

-- ---------------------------------------------------------------- the panic reason
--
-- Defect class 1 (issue 13, DOMAIN.md 1b): a full panic-full log carries, after the reason, the
-- backtrace, "Kernel Extensions in backtrace" and a "loaded kexts:" list naming drivers present on
-- every phone (com.apple.driver.AppleBasebandPCI..., IONVMeFamily, AppleNANDConfigAccess). Reading
-- the whole text raised PAN-041 on nearly every real panic from a phone with a modem. Every
-- analyser below reads only the reason: the "panic(cpu ...)" line (or "Debugger message: <not
-- panic>" for watchdog resets) and the lines after it, up to the first metadata line. Lines
-- before the panic line are not the reason either: a serial console prints
-- "IOPlatformPanicAction -> AppleANS2NVMeController" before every panic (real logs: qemu-t8030
-- issue 33, Inferno issue 122).

-- Logs pasted into forums and issues keep the .ips JSON escapes ("\n", "\t", "\/") and arrive as
-- one long line (real logs: checkra1n BugTracker 1208, Dopamine 94). Plain substitutions, one
-- linear pass each.
local function unescape(text)
  if not string.find(text, "\\", 1, true) then return text end
  text = string.gsub(text, "\\r\\n", "\n")
  text = string.gsub(text, "\\n", "\n")
  text = string.gsub(text, "\\t", "\t")
  text = string.gsub(text, "\\/", "/")
  text = string.gsub(text, '\\"', '"')
  return text
end

-- Lines that start the metadata after the reason (xnu's panic log layout, as in every real log of
-- tests/real/: "Debugger message: panic", "Memory ID:", "OS version:", ...).
local REASON_ENDS = {
  "debugger message:", "memory id:", "os release type:", "os version:", "kernel version:",
  "fileset kernelcache uuid:", "kernelcache uuid:", "kernel uuid:", "boot session uuid:",
  "iboot version:", "iboot stage", "secure boot?:", "roots installed:", "paniclog version:",
  "kernelcache slide:", "kernelcache base:", "kernel slide:", "kernel text base:",
  "kernel text exec", "mach_absolute_time:", "epoch time:", "zone info:", "panicked task",
  "panicked thread", "backtrace (cpu", "kernel extensions in backtrace", "loaded kexts:",
  "last started kext", "last loaded kext", "last unloaded kext", "compressor info:",
  "panic app vers", "debug header", "tpidr",
}

local function starts(l, prefix)
  return string.sub(l, 1, #prefix) == prefix
end

-- The reason as lowercased lines, leading blanks, markdown quotes ("> ") and emphasis ("**")
-- removed, so a log quoted in a forum post reads as the phone wrote it.
local function reason_of(text)
  local ls = {}
  for i, l in ipairs(lines(unescape(text))) do
    l = string.lower(l)
    l = string.gsub(l, "^[%s>*]+", "")
    ls[i] = l
  end
  local s
  for i, l in ipairs(ls) do
    if string.find(l, "panic(cpu", 1, true) then s = i; break end
  end
  if s == nil then
    -- "Debugger message: WDT timeout" panics have no panic(cpu) line (DOMAIN.md 1b; real logs:
    -- Undecimus issues 1101 and 608).
    -- "Debugger message: panic" is metadata, never a reason.
    for i, l in ipairs(ls) do
      if string.find(l, "debugger message:", 1, true) and
         not string.find(l, "debugger message: panic", 1, true) then s = i; break end
    end
  end
  s = s or 1 -- a fragment ("SMC PANIC - ...", a pasted line) is all reason
  local out = { ls[s] }
  for i = s + 1, math.min(#ls, s + REASON_MAX_LINES) do
    local l = ls[i]
    local stop = false
    for _, e in ipairs(REASON_ENDS) do
      if starts(l, e) then stop = true; break end
    end
    if stop then break end
    out[#out + 1] = l
  end
  return out
end

-- ---------------------------------------------------------------- analysers (reason only)

local function missing_sensors(reason, name)
  local list
  for _, line in ipairs(reason) do
    list = string.match(line, "missing sensor%(?s?%)?:%s*(.*)")
    if list ~= nil then break end
  end
  if list == nil then return false end
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
  return true
end

-- Defect class 3: watchdogs without a part. A thermalmonitord watchdog can come with no sensor
-- list ("service returned not alive with context : unresponsive dispatch queue(s)", "(2 induced
-- crashes)", "total successful checkins since wake (960 seconds ago): 79"): thermalmonitord itself
-- hung, which names no part (real log: Dopamine issue 94, iPhone14,2). Watchdogs of other daemons
-- (SpringBoard, backboardd, watchdogd) and "Debugger message: WDT timeout" resets name no part
-- either (real logs: swift-nio 2252, checkra1n 1208, Dopamine 507, Undecimus 1101 and 608). They
-- are recorded as nodes and still count towards PAN-001 as panics; no part fault is raised.
local function watchdog(reason, name, had_sensors)
  local first = reason[1] or ""
  local daemon = string.match(first, "no successful checkins from ([%w%._%-]+)")
  if daemon ~= nil then
    local values = { panic = name, daemon = daemon }
    for _, l in ipairs(reason) do
      if string.find(l, "unresponsive dispatch queue", 1, true) then values.unresponsive_queue = true end
      local induced = string.match(l, "%((%d+) induced crash")
      if induced ~= nil then values.induced_crashes = tonumber(induced) end
    end
    if daemon == "thermalmonitord" and had_sensors then return end
    node("watchdog " .. daemon, values,
         daemon == "thermalmonitord" and "no missing-sensor list: thermalmonitord itself hung, no part named"
                                     or "a daemon stopped checking in: no part named")
    return
  end
  local wd = string.match(first, "no checkins from ([%w%._%-]+)")
  if wd ~= nil then
    node("watchdog " .. wd, { panic = name, daemon = wd }, "no checkins from the watchdog daemon: no part named")
  elseif string.find(first, "debugger message: wdt timeout", 1, true) then
    node("watchdog timer", { panic = name }, "WDT timeout reset: no part named")
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

-- Defect class 2: SMC sensor-array values come in several shapes. Seen: "sensor array 0x100000"
-- (one hex value), "S.sensor array 0 - 6 is 0x0, 0x4000, 0x0, ..." (a list, most entries 0x0),
-- "S.sensor array 0 - 5 is 0, 2621440, 0, 0, 0" (a list in decimal) and "F.sensor array 0 - 1 is
-- 0". The list and decimal shapes come from open analysers' fixtures (mwuc/Panic-Parse-gm
-- analysis.py and others, SOURCES.md); no verbatim real SMC panic text was found, so every shape
-- is read and each non-zero value is mapped. Taking the first token (0x0) named "unknown value
-- 0x0"; a decimal value raised nothing.
local function smc_values(reason)
  local smc, vals, seen, form = false, {}, {}, nil
  for _, line in ipairs(reason) do
    if string.find(line, "smc panic", 1, true) then smc = true end
    local p = string.find(line, "sensor array", 1, true)
    if p ~= nil and #vals < 8 then
      local rest = string.sub(line, p + #"sensor array")
      local is_at = string.find(rest, " is ", 1, true)
      local list = is_at and string.sub(rest, is_at + 4) or rest
      local count, any = 0, false
      for tok in string.gmatch(list, "[%w]+") do
        count = count + 1
        if count > 32 or #tok > 18 then break end
        local n
        if string.match(tok, "^0x%x+$") then n = tonumber(tok)
        elseif string.match(tok, "^%d+$") then n = tonumber(tok)
        elseif any or is_at == nil then break end -- "0x100000 not responding": the value ended
        if n ~= nil then
          any = true
          if n > 0 and not seen[n] and #vals < 8 then
            seen[n] = true
            vals[#vals + 1] = n
            local how = is_at and "list" or "single"
            if not string.match(tok, "^0x") then how = how .. ", decimal" end
            form = form or how
          end
        end
      end
    end
  end
  return smc, vals, form
end

-- PAN-020: each value mapped through models.json smc_sensor_array. A value equal to a table value
-- (as a token: 0x41, 0xa1, 0x500000 are not single bits) names that part; otherwise a value made
-- only of single-bit table values names each of them (0x1800 on a 13 = charge port + front
-- sensor cable); otherwise the part is unknown.
local function smc_map(n, form, name)
  local value = string.format("0x%x", n)
  local table_ = (m and m.smc_sensor_array) or {}
  local hits = {}
  for _, e in ipairs(table_) do
    local _, ev = norm_hex(e.value)
    if ev == n then hits[#hits + 1] = e end
  end
  local how = "token"
  if #hits == 0 then
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
  local form_source = nil
  if form ~= "single" then
    form_source = "value shape from open analysers' fixtures (no verbatim real SMC panic seen), UNVERIFIED"
  end
  if #hits == 0 then
    node("smc sensor array", { panic = name, value = value, model = model_name }, "unknown value")
    finding("PAN-020", "unknown: value " .. value .. " not in the table for " .. model_name,
      { value = value, value_form = form, form_source = form_source, product_type = product,
        confidence = "low",
        source = "models.json smc_sensor_array (iFixit [B]) has no entry for this value" }, name,
        "smc sensor array")
    return
  end
  local parts_seen = {}
  for _, e in ipairs(hits) do
    if not parts_seen[e.part] then
      parts_seen[e.part] = true
      local ev = { value = value, table_value = e.value, matched_as = how, product_type = product,
                   value_form = form, form_source = form_source,
                   confidence = "medium", source = "iFixit SMC panic page [B]" }
      if e.note ~= nil then ev.note = e.note; ev.confidence = "low" end
      if how == "bitmask" then ev.source = ev.source .. "; bit combination per namdt.com [C]"; ev.confidence = "low" end
      node("smc sensor array", { panic = name, value = value, part = e.part, matched_as = how }, "PAN-020")
      finding("PAN-020", e.part, ev, name, "smc sensor array")
    end
  end
end

local function smc_sensor_array(reason, name)
  local smc, vals, form = smc_values(reason)
  if not smc then return false end
  if #vals == 0 then
    node("smc sensor array", { panic = name }, "no non-zero value in the panic")
    return true
  end
  for _, n in ipairs(vals) do smc_map(n, form, name) end
  return true
end

-- PAN-030: "i2c0::_checkInterrupts error interrupt; ... for device ad5860" (real log: iFixit
-- Answers 845833, iPhone XS Max). The bus maps through models.json i2c_buses (rewa.tech [C]); the
-- device the panic names is kept in the part, since it narrows the search more than the bus.
local function i2c(reason, name)
  local bus, dev
  for _, line in ipairs(reason) do
    if string.find(line, "i2c", 1, true) and string.find(line, "error", 1, true) then
      bus = string.match(line, "i2c(%d+)")
      dev = string.match(line, "for device (%w+)")
      if bus ~= nil then break end
    end
  end
  if bus == nil then return false end
  local on = dev and (", device " .. dev) or ""
  local part = "peripheral on i2c" .. bus .. on .. " (low confidence)"
  if m ~= nil and m.i2c_buses ~= nil and m.i2c_buses[bus] ~= nil then
    part = m.i2c_buses[bus] .. " (i2c" .. bus .. on .. ", low confidence)"
  end
  node("i2c error", { panic = name, bus = "i2c" .. bus, device = dev }, "PAN-030")
  finding("PAN-030", part, { bus = "i2c" .. bus, device = dev, confidence = "low",
                             source = "rewa.tech, imobilestore [C]" }, name, "i2c error")
  return true
end

local function storage(text, name)
  for _, word in ipairs({ "ans2", "nvme", "apcie", "nand", "appleans" }) do
    if string.find(text, "%f[%w]" .. word) then
      node("storage panic", { panic = name, keyword = word }, "PAN-040")
      finding("PAN-040", nil, { keyword = word, confidence = "low", source = "pikabu, imobilestore [C]" },
              name, "storage panic")
      return true
    end
  end
  return false
end

local function baseband(text, name)
  if string.find(text, "baseband", 1, true) or string.find(text, "radio on sequence failed", 1, true) then
    node("baseband panic", { panic = name }, "PAN-041")
    finding("PAN-041", nil, { confidence = "low", source = "imobilestore [C]" }, name, "baseband panic")
    return true
  end
  return false
end

local AOP_PARTS = {
  { find = "pressure controller", part = "barometer / bottom flex (Pressure Controller)" },
  { find = "no pulse on", part = "microphone / audio parts (\"no pulse on\")" },
  { find = "bosch", part = "vibrator (Taptic Engine), UNCERTAIN (\"k2 bosch control\")" },
  { find = "prox", part = "proximity sensor (front sensor flex); check for liquid damage" },
}

local function aop(reason, name)
  local line
  for _, l in ipairs(reason) do
    if string.find(l, "aop panic", 1, true) then line = l; break end
  end
  if line == nil then return false end
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
  return true
end

local function analyse(text, name)
  local reason = reason_of(text)
  local joined = table.concat(reason, "\n")
  local any = false
  local sensors = missing_sensors(reason, name)
  watchdog(reason, name, sensors)
  any = sensors or any
  any = smc_sensor_array(reason, name) or any
  any = i2c(reason, name) or any
  any = storage(joined, name) or any
  any = baseband(joined, name) or any
  any = aop(reason, name) or any
  if not any then
    node("reason " .. name, { reason = string.sub(reason[1] or "", 1, 160), lines = #reason },
         "no part named in the panic reason")
  end
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
