-- Battery: wear (BAT-001), cycle count against the model's rating (BAT-002), temperature
-- (BAT-003) and a gauge that does not report sensible values (BAT-004).
-- Sources: DOMAIN.md section 3 (Apple: 80 % at 500 cycles, 1000 for the iPhone 15 family and
-- later; powerd computes health as ceil(nominal / design * 100)).
tree{ name = "battery", version = "1.1", probes = { "info", "battery" },
      description = "Battery wear, cycle count, temperature and gauge" }

local device = snapshot.device or {}
local b = snapshot.battery

-- No battery data can be read from a phone in recovery/DFU or one that is locked: the system
-- tree reports that, so this tree only notes it.
local mode, lockdown = device.mode or "normal", device.lockdown or "ok"
if mode ~= "normal" or lockdown ~= "ok" then
  node("readable", { mode = mode, lockdown = lockdown }, "skipped")
  return
end

local failed = probe_failed("battery")
if failed ~= nil and b == nil then
  node("readable", { probe_error = failed }, "failed")
  incomplete{ key = "battery_not_read", detail = failed,
              text = { en = "the battery could not be read: reconnect the phone and diagnose again",
                       it = "non è stato possibile leggere la batteria: ricollega il telefono e ripeti la diagnosi",
                       fr = "la batterie n'a pas pu être lue : reconnectez le téléphone et relancez le diagnostic",
                       zh = "无法读取电池：请重新连接手机后重新诊断" } }
  return
end
-- A snapshot taken without the battery probe (benchctl snapshot --probe info) never asked for the
-- gauge: that is "not read", not BAT-004 "gauge not reporting" (issue 13). Snapshots without a
-- probes list (older ones) keep the gauge check below.
local probed = type(snapshot.probes) ~= "table"
for _, p in ipairs(type(snapshot.probes) == "table" and snapshot.probes or {}) do
  if p == "battery" then probed = true end
end
if b == nil and not probed then
  node("readable", { probes = snapshot.probes }, "battery not read")
  incomplete{ key = "battery_not_probed",
              text = { en = "the battery was not read: diagnose again with the battery probe",
                       it = "la batteria non è stata letta: ripeti la diagnosi con la lettura della batteria",
                       fr = "la batterie n'a pas été lue : relancez le diagnostic avec la lecture de la batterie",
                       zh = "未读取电池：请在读取电池的情况下重新诊断" } }
  return
end

-- BAT-004: the gauge is missing or says things no battery can say. Then no other battery
-- fault: a capacity or cycle figure from a broken gauge means nothing.
local flags = {}
if b ~= nil and b.flags ~= nil then
  for _, f in ipairs(b.flags) do flags[#flags + 1] = f end
end
if b == nil then flags[#flags + 1] = "gauge_missing" end
if b ~= nil then
  if b.health_pct ~= nil and (b.health_pct <= 0 or b.health_pct > 150) then
    flags[#flags + 1] = "health_out_of_range"
  end
  if b.cycle_count ~= nil and b.cycle_count < 0 then flags[#flags + 1] = "cycle_count_negative" end
  if b.design_capacity_mah == nil and b.nominal_capacity_mah == nil and b.cycle_count == nil then
    flags[#flags + 1] = "no_readings"
  end
end
node("gauge", { flags = flags }, #flags == 0 and "ok" or "fault")
if #flags > 0 then
  fault("BAT-004", { flags = flags, source = b and b.source or nil })
  return
end

-- BAT-001: maximum capacity below 80 % (Apple's service threshold).
check{ node = "health", name = "health_pct", value = b.health_pct, below = 80, fault = "BAT-001",
       evidence = { design_capacity_mah = b.design_capacity_mah,
                    nominal_capacity_mah = b.nominal_capacity_mah } }

-- BAT-002: cycle count at or past the model's rated life.
local m, product = model()
local rating, rating_from = 500, "default (model not in models.json)"
if m ~= nil and m.battery_cycle_rating ~= nil then
  rating, rating_from = m.battery_cycle_rating, product
end
check{ node = "cycles", name = "cycle_count", value = b.cycle_count, at_least = rating,
       fault = "BAT-002", values = { rating_from = rating_from },
       evidence = { rating = rating, rating_from = rating_from } }

-- BAT-003: temperature outside 0-45 C (Apple: storage -20..45, use 0..35).
check{ node = "temperature", name = "temperature_c", value = b.temperature_c, outside = { 0, 45 },
       fault = "BAT-003", evidence = { is_charging = b.is_charging } }
