-- Battery: wear (BAT-001), cycle count against the model's rating (BAT-002), temperature
-- (BAT-003), a gauge that does not report sensible values (BAT-004), and, from this bench's
-- earlier readings of the same battery, the forecast (readings.battery_forecast) and wear
-- clearly faster than the model's normal (BAT-010): see the Forecast section at the end.
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

-- =============================================================================================
-- Forecast (issue 16, DESIGN 4.9): months until this battery reaches 80 %, from this bench's
-- earlier readings of it (the global `history`), and BAT-010 when it wears clearly faster than
-- its model's normal. Every number below is explained, with the method's assumptions and
-- limits, in README.md "Battery history and forecast". Pure: time is measured from
-- snapshot.captured_at and the history's `at`, never from a clock.
-- =============================================================================================
local F = {
  z = 1.645,              -- a 90 % interval (two-sided normal quantile)
  reading_sd = 0.6,       -- one health reading's error in points: ceil() (0.29), powerd's
                          -- smoothing lag (0.29) and gauge wobble (~0.4), in quadrature
  prior_spread = 0.5,     -- the model's batteries: normal slope +/- 50 % (one sd)
  min_cycles = 50,        -- DESIGN 4.9: 2 distinct health values over at least 50 cycles
  min_days = 14,          -- usage (cycles a day) needs two weeks to mean anything
  slope_floor = 0.25,     -- no forecast assumes wear slower than a quarter of normal
  fast = 1.5,             -- BAT-010: the slope interval's lower end above 1.5 x normal
  max_cycles_per_day = 3, -- more than this between two readings is not one phone's use
  cycles_slack = 3,
  new_cycles = 20,        -- powerd: a battery with at most 20 cycles is new (starts at 104)
  usage_day_cv = 0.5,     -- day-to-day usage varies about +/- 50 %
  usage_drift = 0.15,     -- and the coming months' habits another +/- 15 %
  max_months = 60,        -- past 5 years calendar ageing, which this ignores, dominates
  days_per_month = 30.44,
}

local function fc_count(x)   -- a whole, sane cycle count, else nil
  if type(x) ~= "number" or x ~= x or x < 0 or x > 100000 or x ~= math.floor(x) then return nil end
  return x
end

local function fc_health(x)  -- a health percentage the drivers would accept (1..150), else nil
  if type(x) ~= "number" or x ~= x or x < 1 or x > 150 then return nil end
  return x
end

local function fc_serial(x)
  if type(x) ~= "string" then return nil end
  local s = string.upper((string.gsub(x, "%s", "")))
  if s == "" then return nil end
  return s
end

local function fc_round(x, places)
  local m = 10 ^ (places or 3)
  return math.floor(x * m + 0.5) / m
end

-- The history's usable rows, oldest first: {age (days before this reading), cycles, health,
-- serial}. Rows that are not readings, or not from before this reading, are counted.
local function fc_rows()
  local rows, bad, later = {}, 0, 0
  for i = 1, #history do
    local h = history[i]
    local age, c, hp = nil, nil, nil
    if type(h) == "table" then
      age = type(h.at) == "string" and age_days(h.at) or nil
      c, hp = fc_count(h.cycle_count), fc_health(h.health_pct)
    end
    if age == nil or c == nil or hp == nil then
      bad = bad + 1
    elseif age <= 0 then
      later = later + 1   -- this reading itself (an earlier revision), or from the future
    else
      rows[#rows + 1] = { age = age, cycles = c, health = hp, serial = fc_serial(h.battery_serial), i = i }
    end
  end
  table.sort(rows, function(a, b)
    if a.age ~= b.age then return a.age > b.age end
    return a.i < b.i
  end)
  return rows, bad, later
end

-- Could a phone have gone from reading a (older) to reading b (newer)?
local function fc_follows(a, b)
  if a.cycles > b.cycles then return false end
  return b.cycles - a.cycles <= F.max_cycles_per_day * (a.age - b.age) + F.cycles_slack
end

-- This battery's series, oldest first, ending with the current reading. A new battery serial
-- starts a new series: with a serial, only rows of that serial count (others are counted, never
-- used); without one, rows are followed back while the cycle count could have run forward.
local function fc_series(rows, cur)
  local kept, nxt = { cur }, cur
  local n = { elsewhere = 0, inconsistent = 0 }
  local replaced, serial = false, cur.serial
  for i = #rows, 1, -1 do
    local r = rows[i]
    if cur.serial ~= nil then
      if r.serial ~= cur.serial then
        n.elsewhere = n.elsewhere + 1
        if i == #rows and r.serial ~= nil then replaced = true end
      elseif fc_follows(r, nxt) then
        table.insert(kept, 1, r); nxt = r
      else
        n.inconsistent = n.inconsistent + 1
      end
    else
      if (serial ~= nil and r.serial ~= nil and r.serial ~= serial) or r.cycles > nxt.cycles then
        if #kept == 1 then replaced = true end
        n.elsewhere = n.elsewhere + i   -- this row and every older one: another battery
        break
      elseif fc_follows(r, nxt) then
        table.insert(kept, 1, r); nxt = r
        serial = serial or r.serial
      else
        n.inconsistent = n.inconsistent + 1
      end
    end
  end
  return kept, n, replaced
end

-- Health against cycles. Segments split where health rises (a gauge recalibration: powerd's
-- health only goes down) or falls faster than powerd lets it (more than 1 point per 5 cycles,
-- +1 for ceil): a step of the gauge, not wear. One slope, fitted within the segments (each
-- keeps its own level), so a step never makes the wear look slower or faster than it was.
local function fc_fit(series)
  local pts, segs, cur = {}, {}, nil
  local steps = { recalibrations = 0, gauge_steps = 0 }
  for _, p in ipairs(series) do
    local last = pts[#pts]
    -- Above 100 % is a new battery's gauge start state (powerd starts it at 104), not wear;
    -- the same cycles and health twice is one reading, not two.
    if p.health <= 100 and not (last and last.cycles == p.cycles and last.health == p.health) then
      if last ~= nil and p.health > last.health then
        steps.recalibrations = steps.recalibrations + 1; cur = nil
      elseif last ~= nil and last.health - p.health > math.floor((p.cycles - last.cycles) / 5) + 1 then
        steps.gauge_steps = steps.gauge_steps + 1; cur = nil
      end
      if cur == nil then cur = {}; segs[#segs + 1] = cur end
      cur[#cur + 1] = p
      pts[#pts + 1] = p
    end
  end
  local sxx, sxy, nfit, nseg, span, moved = 0, 0, 0, 0, 0, false
  for _, s in ipairs(segs) do
    if #s >= 2 then
      local mc, mh = 0, 0
      for _, p in ipairs(s) do mc = mc + p.cycles; mh = mh + p.health end
      mc, mh = mc / #s, mh / #s
      for _, p in ipairs(s) do
        sxx = sxx + (p.cycles - mc) ^ 2
        sxy = sxy + (p.cycles - mc) * (p.health - mh)
        if p.health ~= s[1].health then moved = true end
      end
      s.mc, s.mh = mc, mh
      nfit, nseg, span = nfit + #s, nseg + 1, span + (s[#s].cycles - s[1].cycles)
    end
  end
  local fit = { sxx = sxx, n = nfit, segments = nseg, cycles = span, moved = moved, steps = steps }
  if sxx > 0 then
    fit.slope = math.max(0, -sxy / sxx)   -- points lost per cycle
    local rss = 0
    for _, s in ipairs(segs) do
      if #s >= 2 then
        for _, p in ipairs(s) do
          rss = rss + (p.health - s.mh + fit.slope * (p.cycles - s.mc)) ^ 2
        end
      end
    end
    local df = nfit - nseg - 1
    fit.sd = F.reading_sd
    if df >= 2 then fit.sd = math.max(F.reading_sd, math.sqrt(rss / df)) end
  end
  return fit
end

local function battery_forecast(b, rating, rating_from)
  local h, c = b.health_pct, b.cycle_count
  if type(h) ~= "number" or type(c) ~= "number" then
    node("forecast", { health_pct = h, cycle_count = c }, "unknown")
    return
  end
  -- ceil(): a reading of 80 means the true value is in (79, 80]: already at the line, and
  -- nothing below 80 is ever extrapolated.
  if h <= 80 then
    node("forecast", { health_pct = h }, "below 80")
    reading("battery_forecast", { status = "below 80" })
    return
  end
  local rows, bad, later = fc_rows()
  local cur = { age = 0, cycles = c, health = h, serial = fc_serial(b.serial) }
  local series, n, replaced = fc_series(rows, cur)
  local fit = fc_fit(series)
  local first = series[1]
  local days, cycles = first.age, c - first.cycles
  local hv = { rows = #history, used = #series - 1, not_readings = bad, not_before = later,
               not_this_battery = n.elsewhere, inconsistent = n.inconsistent, replaced = replaced,
               recalibrations = fit.steps.recalibrations, gauge_steps = fit.steps.gauge_steps }
  node("history", hv, #series - 1)
  -- Visits: readings that say something new (a re-plug minutes later repeats the last one).
  local visits, prev = 0, nil
  for _, p in ipairs(series) do
    if not (prev and prev.cycles == p.cycles and prev.health == p.health) then visits = visits + 1 end
    prev = p
  end
  local basis = { visits = visits, cycles = cycles, days = math.floor(days + 0.5) }

  local why = nil
  if fit.cycles < F.min_cycles or fit.slope == nil then
    why = "fewer than " .. F.min_cycles .. " cycles between comparable readings"
  elseif not fit.moved then why = "health has not moved yet"
  elseif days < F.min_days then why = "fewer than " .. F.min_days .. " days between readings" end
  if why ~= nil then
    local status = "too early"
    if c <= F.new_cycles or (replaced and #series == 1) then status = "new battery" end
    node("forecast", { reason = why, visits = basis.visits, cycles = cycles, days = basis.days,
                       fit_cycles = fit.cycles, cycle_count = c, replaced = replaced }, status)
    reading("battery_forecast", { status = status })
    return
  end

  -- Shrink toward the model's normal: 80 % at the rated cycles from 100 %, +/- 50 %. The data's
  -- slope weighs by its precision (sxx / sd^2), the normal one by 1 / spread^2.
  local normal = 20 / rating
  local spread = F.prior_spread * normal
  local w_data, w_prior = fit.sxx / fit.sd ^ 2, 1 / spread ^ 2
  local slope = (w_data * fit.slope + w_prior * normal) / (w_data + w_prior)
  local sd = math.sqrt(1 / (w_data + w_prior))
  local slope_lo = math.max(slope - F.z * sd, F.slope_floor * normal)
  local slope_hi = slope + F.z * sd

  -- Cycles against days: the rate of a counting process is its count over its time.
  local rate = cycles / days
  local rate_rel = math.sqrt(F.usage_day_cv ^ 2 / days + F.usage_drift ^ 2)

  -- How far to 80: ceil() puts the true value in (h - 1, h]; after a recalibration the low
  -- end starts from the lowest earlier reading, so a rise never makes the soonest date later.
  local low_level = h
  for _, p in ipairs(series) do low_level = math.min(low_level, p.health) end
  local room_hi, room_lo = h - 80, math.max(0, low_level - 1 - 80)

  -- Wear per day and its spread on a log scale: the slope's interval and the rate's, combined.
  local per_day = slope * rate
  local up = math.sqrt(math.log(slope_hi / slope) ^ 2 + (F.z * rate_rel) ^ 2)
  local down = math.sqrt(math.log(slope / slope_lo) ^ 2 + (F.z * rate_rel) ^ 2)
  local m_lo = room_lo / (per_day * math.exp(up)) / F.days_per_month
  local m_hi = room_hi / (per_day * math.exp(-down)) / F.days_per_month
  local lo, hi = math.floor(m_lo), math.ceil(m_hi)
  if hi <= lo then hi = lo + 1 end   -- an interval, never one date
  local open = false
  if hi > F.max_months then hi, open = F.max_months, true end
  if lo > F.max_months then lo = F.max_months end

  local times, times_lo = slope / normal, (slope - F.z * sd) / normal
  node("forecast", {
    visits = basis.visits, cycles = cycles, days = basis.days, fit_points = fit.n,
    fit_cycles = fit.cycles, reading_sd = fc_round(fit.sd, 2),
    data_per_100_cycles = fc_round(fit.slope * 100, 3),
    normal_per_100_cycles = fc_round(normal * 100, 3), normal_from = rating_from,
    prior_weight = fc_round(w_prior / (w_data + w_prior), 3),
    per_100_cycles = fc_round(slope * 100, 3),
    per_100_cycles_interval = { fc_round(slope_lo * 100, 3), fc_round(slope_hi * 100, 3) },
    times_normal = fc_round(times, 2), times_normal_low = fc_round(times_lo, 2),
    cycles_per_day = fc_round(rate, 3), cycles_per_day_spread = fc_round(rate_rel, 3),
    points_to_80 = { room_lo, room_hi }, months = { fc_round(m_lo, 1), fc_round(m_hi, 1) },
  }, "interval")
  local out = { months_to_80 = { lo, hi }, basis = basis }
  if open then out.open_ended = true end
  reading("battery_forecast", out)

  -- BAT-010: "clearly" = even the slope interval's lower end is above 1.5 x normal (one-sided,
  -- 95 % sure it wears at least 1.5 x as fast: 80 % at two thirds of the rated cycles or
  -- sooner). The shrinkage makes a short history prove it: 2 x normal needs about 100 cycles.
  check{ node = "wear rate", name = "times_normal_low", value = fc_round(times_lo, 2),
         above = F.fast, fault = "BAT-010",
         values = { times_normal = fc_round(times, 2) },
         evidence = { times_normal = fc_round(times, 2),
                      per_100_cycles = fc_round(slope * 100, 3),
                      normal_per_100_cycles = fc_round(normal * 100, 3),
                      normal_from = rating_from, visits = basis.visits, cycles = cycles,
                      days = basis.days } }
end

battery_forecast(b, rating, rating_from)
