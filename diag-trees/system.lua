-- Device state: recovery mode (SYS-001), DFU / WTF / Port DFU (SYS-002), and a phone that is
-- locked, does not trust this computer or shows the Trust dialog (SYS-003: the diagnosis is
-- incomplete, the report is still written). Modes come from the USB product id (DOMAIN.md 5).
tree{ name = "system", version = "1.1", probes = { "info", "usb" },
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
  incomplete{ key = "unknown_mode", detail = tostring(mode),
              text = { en = "the phone is in an unknown USB mode: restart it and diagnose again",
                       it = "il telefono è in una modalità USB sconosciuta: riavvialo e ripeti la diagnosi",
                       fr = "le téléphone est dans un mode USB inconnu : redémarrez-le et relancez le diagnostic",
                       zh = "手机处于未知的 USB 模式：请重启手机后重新诊断" } }
  return
end

local WHY = {
  locked = { en = "the phone is locked with a passcode: ask the customer to unlock it, then diagnose again",
             it = "il telefono è bloccato con un codice: chiedi al cliente di sbloccarlo, poi ripeti la diagnosi",
             fr = "le téléphone est verrouillé par un code : demandez au client de le déverrouiller, puis relancez le diagnostic",
             zh = "手机已用密码锁定：请客户解锁后重新诊断" },
  untrusted = { en = "the phone does not trust this computer: unlock it, tap Trust, then diagnose again",
                it = "il telefono non considera attendibile questo computer: sbloccalo, tocca Autorizza, poi ripeti la diagnosi",
                fr = "le téléphone ne fait pas confiance à cet ordinateur : déverrouillez-le, touchez Se fier, puis relancez le diagnostic",
                zh = "手机不信任这台电脑：请解锁手机并轻点“信任”，然后重新诊断" },
  ["pairing-pending"] = { en = "the Trust dialog is showing on the phone: tap Trust, then diagnose again",
                          it = "sul telefono è aperta la richiesta di autorizzazione: tocca Autorizza, poi ripeti la diagnosi",
                          fr = "la demande de confiance est affichée sur le téléphone : touchez Se fier, puis relancez le diagnostic",
                          zh = "手机上正显示“信任”对话框：请轻点“信任”，然后重新诊断" },
}
node("lockdown", { lockdown = lockdown }, lockdown or "unknown")
if lockdown ~= nil and WHY[lockdown] ~= nil then
  fault("SYS-003", { lockdown = lockdown, product_type = id.product_type })
  incomplete{ key = lockdown, text = WHY[lockdown] }
elseif lockdown ~= nil and lockdown ~= "ok" then
  incomplete{ key = "lockdown_error", detail = lockdown,
              text = { en = "lockdownd did not answer: reconnect the phone and diagnose again",
                       it = "lockdownd non ha risposto: ricollega il telefono e ripeti la diagnosi",
                       fr = "lockdownd n'a pas répondu : reconnectez le téléphone et relancez le diagnostic",
                       zh = "lockdownd 没有响应：请重新连接手机后重新诊断" } }
end

-- The info probe failed (a lockdown GetValue answer refused as hostile, a dropped connection):
-- model, serial and iOS are unknown, so the other trees' model-specific rules cannot hold and
-- a "pass" would be a claim nobody checked (issue 11: a 100,000-deep GetValue answer gave a
-- report with no word of it). The report is incomplete and says why.
-- A locked or untrusted phone refuses the info probe too: its own reason above says what to do.
local info_failed = probe_failed("info")
if info_failed ~= nil and (lockdown == nil or lockdown == "ok") then
  node("info", { probe_error = info_failed }, "not read")
  incomplete{ key = "device_info_not_read", detail = info_failed,
              text = { en = "the phone's identity (model, serial, iOS) could not be read: reconnect it and diagnose again",
                       it = "non è stato possibile leggere l'identità del telefono (modello, numero di serie, iOS): ricollegalo e ripeti la diagnosi",
                       fr = "l'identité du téléphone (modèle, numéro de série, iOS) n'a pas pu être lue : reconnectez-le et relancez le diagnostic",
                       zh = "无法读取手机的身份信息（型号、序列号、iOS）：请重新连接手机后重新诊断" } }
end
