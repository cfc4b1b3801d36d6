-- Storage: a phone with almost no free space is slow, fails updates and can boot-loop (STO-001).
-- The figures are lockdown's disk_usage (TotalDataCapacity / TotalDataAvailable); they ignore
-- purgeable space, so they are a floor on what Settings shows (DOMAIN.md 4).
tree{ name = "storage", version = "1.0", probes = { "info" },
      description = "Free storage space" }

local GB = 1000 * 1000 * 1000 -- Apple counts storage in decimal gigabytes
local MIN_FREE_PCT = 5
local MIN_FREE_BYTES = 1 * GB

local device = snapshot.device or {}
if (device.mode or "normal") ~= "normal" or (device.lockdown or "ok") ~= "ok" then
  node("readable", { mode = device.mode, lockdown = device.lockdown }, "skipped")
  return
end

local s = snapshot.storage
local total, avail = s and s.total_bytes, s and s.available_bytes
if total == nil or avail == nil or total <= 0 or avail < 0 or avail > total then
  node("free space", { total_bytes = total, available_bytes = avail }, "unknown")
  return
end

local pct = math.floor(avail * 1000 / total + 0.5) / 10
local low = pct < MIN_FREE_PCT or avail < MIN_FREE_BYTES
node("free space", { available_bytes = avail, total_bytes = total, free_pct = pct,
                     rule = "free < 5 % or < 1 GB" }, low and "fault" or "ok")
if low then
  fault("STO-001", { available_bytes = avail, total_bytes = total, free_pct = pct,
                     available_gb = math.floor(avail / GB * 100 + 0.5) / 100,
                     rule = "free < 5 % or < 1 GB" })
end
