node("early", {}, "ok")
tree{ name = "beforedecl", version = "1.0", probes = {} }
