tree{ name = "badcode", version = "1.0", probes = {} }
node("x", {}, "ok")
fault("XYZ-999", {})
