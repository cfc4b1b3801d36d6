-- Device state: recovery mode (SYS-001), DFU / WTF / Port DFU (SYS-002), and a phone that is
-- locked, does not trust this computer or shows the Trust dialog (SYS-003: the diagnosis is
-- incomplete, the report is still written). Modes come from the USB product id (DOMAIN.md 5).
tree{ name = "system", version = "1.0", probes = { "info", "usb" },
      description = "Recovery / DFU mode, passcode lock and trust" }

local device = snapshot.device or {}
local mode = device.mode or "normal"
local lockdown = device.lockdown
local m, product = model()
local usb = device.usb or {}
local id = { product_type = product or device.product_type, model = m and m.name or device.model_name,
             ecid = device.ecid, cpid = usb.cpid, bdid = usb.bdid }

node("mode", { mode = mode, product_id = usb.product_id }, mode)
if mode == "recovery" then
  id.mode = mode
  fault("SYS-001", id)
  return
elseif mode == "dfu" or mode == "wtf" or mode == "port-dfu" then
  id.mode = mode
  fault("SYS-002", id)
  return
elseif mode ~= "normal" then
  incomplete("the phone is in an unknown USB mode '" .. tostring(mode) .. "': restart it and diagnose again")
  return
end

local WHY = {
  locked = "the phone is locked with a passcode: ask the customer to unlock it, then diagnose again",
  untrusted = "the phone does not trust this computer: unlock it, tap Trust, then diagnose again",
  ["pairing-pending"] = "the Trust dialog is showing on the phone: tap Trust, then diagnose again",
}
node("lockdown", { lockdown = lockdown }, lockdown or "unknown")
if lockdown ~= nil and WHY[lockdown] ~= nil then
  fault("SYS-003", { lockdown = lockdown, product_type = id.product_type })
  incomplete(WHY[lockdown])
elseif lockdown ~= nil and lockdown ~= "ok" then
  incomplete("lockdownd did not answer (" .. lockdown .. "): reconnect the phone and diagnose again")
end
