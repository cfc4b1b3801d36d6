tree{ name = "syntax", version = "1.0", probes = {} }
if then
